"""`deeph2 bands` on OpenMX and DeepH inputs, against OpenMX's own eigenvalues."""

import re

import numpy as np
import pytest

from ase_deeph2.cli import main
from ase_deeph2.io import read_openmx_eigenvalues, read_scfout, write_deeph
from conftest import run_dir, snap_kpts


def test_bands_gap_and_fermi_level_are_openmxs(tmp_path, capsys):
    folder = run_dir("mos2_1x1")
    assert main(["bands", str(folder / "openmx.scfout"), "--path", "GMKG", "--npoints", "40", "--kpts", "9", "9", "1",
                 "-o", str(tmp_path / "a.png")]) == 0
    out = capsys.readouterr().out
    ref = read_openmx_eigenvalues(folder / "openmx.out")
    k = snap_kpts(ref["kpts"], (9, 9, 1))
    nv = int(round(read_scfout(folder / "openmx.scfout").n_electrons / 2))  # 26 electrons: 13 bands
    vbm = ref["eigenvalues"][0, :, nv - 1].max()
    cbm_k = ref["eigenvalues"][0, [i for i, kk in enumerate(k) if np.allclose(np.abs(kk), [1 / 3, 1 / 3, 0])], nv].min()
    gap = float(re.search(r"indirect gap (\S+) eV", out).group(1))
    assert gap == pytest.approx(cbm_k - vbm, abs=1e-3)  # VBM at Γ, CBM at K, as OpenMX's eigenvalues say
    ef = float(re.search(r"Fermi level (\S+) eV", out).group(1))
    assert vbm < ef < cbm_k and (tmp_path / "a.png").stat().st_size > 5000


def test_the_reference_overlay_is_compared(tmp_path, capsys):
    scfout = run_dir("mos2_1x1") / "openmx.scfout"
    folder = write_deeph(tmp_path / "deeph", read_scfout(scfout))
    assert main(["bands", str(folder), "--reference", str(run_dir("mos2_1x1")), "--npoints", "30",
                 "--kpts", "6", "6", "1", "-o", str(tmp_path / "b.png")]) == 0
    out = capsys.readouterr().out
    # the same DFT data twice: the overlay agrees to rounding
    assert re.search(r"differ by 0\.0 meV on average, 0\.0 meV at most", out)


def test_bad_source_is_one_line(tmp_path, capsys):
    (tmp_path / "junk.scfout").write_text("not binary")
    assert main(["bands", str(tmp_path / "junk.scfout")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("deeph2 bands: error:") and "junk.scfout" in err and len(err.splitlines()) == 1
    assert main(["bands", str(tmp_path / "nowhere")]) == 1
    assert "nowhere does not exist" in capsys.readouterr().err


def test_bands_of_a_structure_file_with_a_model(tmp_path, tiny_model_file, capsys):
    from ase.build import graphene
    from ase.io import write

    atoms = graphene(a=2.46, vacuum=7.5)
    write(tmp_path / "g.xyz", atoms)  # the calculator must keep the structure the CLI read
    assert main(["bands", str(tmp_path / "g.xyz"), "--model", str(tiny_model_file), "--npoints", "20",
                 "--kpts", "6", "6", "1", "-o", str(tmp_path / "m.png")]) == 0
    assert "Fermi level" in capsys.readouterr().out and (tmp_path / "m.png").is_file()
    atoms[1].symbol = "N"
    write(tmp_path / "cn.xyz", atoms)
    assert main(["bands", str(tmp_path / "cn.xyz"), "--model", str(tiny_model_file), "-o", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err
    assert "['N'] (first at atom 1)" in err and len(err.splitlines()) == 1
