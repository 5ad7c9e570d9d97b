"""Band and DOS plots: overlays of two band structures, PNG files written."""

import numpy as np

from ase_deeph2.hamiltonian_calculator import HamiltonianCalculator
from ase_deeph2.plotting import plot_bands, plot_dos
from conftest import run_dir


def test_band_overlay_and_dos_plots(tmp_path):
    calc = HamiltonianCalculator.from_scfout(run_dir("graphene_1x1") / "openmx.scfout", kpts=(6, 6, 1))
    bs = calc.band_structure("GMKG", npoints=40)
    from ase.spectrum.band_structure import BandStructure
    shifted = BandStructure(bs.path, bs.energies + 0.5, reference=0.5)  # the same bands, another reference
    ax = plot_bands([bs, shifted], ["DFT", "shifted"], -3, 3, filename=tmp_path / "bands.png", title="graphene")
    assert (tmp_path / "bands.png").stat().st_size > 5000
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["DFT", "shifted"]
    lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == 40]
    assert len(lines) == 2 * 26
    for a, b in zip(lines[:26], lines[26:]):  # each plotted relative to its own reference: on top of each other
        assert np.allclose(a.get_ydata(), b.get_ydata())
    e, dos = calc.dos(width=0.1, projection="l")
    plot_dos(e, dos, calc.get_fermi_level(), filename=tmp_path / "dos.png", emin=-5, emax=5)
    assert (tmp_path / "dos.png").stat().st_size > 5000
    assert np.all(np.isfinite(dos["total"]))
