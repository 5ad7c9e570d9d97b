"""HamiltonianCalculator: ASE's band_structure() and DOS work unchanged on real OpenMX data."""

import numpy as np
import pytest
from ase.calculators.calculator import PropertyNotImplementedError
from ase.dft.dos import DOS
from ase.units import Hartree

from ase_deeph2.hamiltonian_calculator import HamiltonianCalculator
from ase_deeph2.io import read_scfout
from conftest import run_dir
from scfout_synth import write_spin_variant


@pytest.fixture
def graphene_calc():
    calc = HamiltonianCalculator.from_scfout(run_dir("graphene_1x1") / "openmx.scfout", kpts=(9, 9, 1))
    calc.atoms.calc = calc
    return calc


def test_ase_interface_and_energy(graphene_calc):
    atoms = graphene_calc.atoms
    data = read_scfout(run_dir("graphene_1x1") / "openmx.scfout")
    assert graphene_calc.get_fermi_level() == pytest.approx(data.fermi_level, abs=2e-3)
    assert graphene_calc.get_number_of_spins() == 1 and graphene_calc.get_number_of_bands() == 26
    k, w = graphene_calc.get_ibz_k_points(), graphene_calc.get_k_point_weights()
    assert len(k) == 12 and w.sum() == pytest.approx(1.0)
    import scipy.linalg as sl
    from ase.units import kB
    eig = graphene_calc.get_eigenvalues(kpt=0, spin=0)
    assert eig.shape == (26,) and np.all(np.diff(eig) >= 0)
    direct = np.array([sl.eigvalsh(data.hamiltonian.to_dense(kk), data.overlap.to_dense(kk)) for kk in k])
    assert np.abs(np.array([graphene_calc.get_eigenvalues(kpt=i) for i in range(len(k))]) - direct).max() < 1e-9
    # energy = band energy sum_n f_n e_n with Fermi-Dirac occupations at 300 K and E_F of the mesh
    ef = graphene_calc.get_fermi_level()
    f = 1 / (1 + np.exp(np.minimum((direct - ef) / (kB * 300), 700)))
    assert atoms.get_potential_energy() == pytest.approx(2 * np.sum(w[:, None] * f * direct), abs=1e-9)
    assert 2 * np.sum(w[:, None] * f) == pytest.approx(8.0, abs=1e-9)


def test_ase_band_structure_and_dos_work_unchanged(graphene_calc, tmp_path):
    bs = graphene_calc.band_structure()  # the cell's default path, 2D: G M K G
    assert bs.path.path == "GMKG" and bs.reference == 0.0  # energies are E - E_F
    ef = graphene_calc.get_fermi_level()
    gamma = graphene_calc.get_eigenvalues(kpt=0, spin=0)  # the mesh's first point is Γ
    assert np.allclose(graphene_calc.get_ibz_k_points()[0], 0)
    assert np.abs(bs.energies[0, 0] + ef - gamma).max() < 1e-9
    bs.plot(filename=str(tmp_path / "bands.png"), emin=-5, emax=5)
    assert (tmp_path / "bands.png").stat().st_size > 1000
    dos = DOS(graphene_calc, width=0.1, window=(-30, 230), npts=26001)  # ASE's DOS over every state
    assert np.trapezoid(dos.get_dos(), dos.get_energies()) == pytest.approx(2 * 26, rel=1e-3)
    # ASE's legacy DOS broadens with exp(-(x/w)^2): a Gaussian of standard deviation w / sqrt(2)
    ours_e, ours = graphene_calc.dos(emin=ef - 3, emax=ef + 3, npts=301, width=0.1 / np.sqrt(2))
    ase_dos = DOS(graphene_calc, width=0.1, window=(-3, 3), npts=301)  # ASE refers to E_F
    assert np.allclose(ase_dos.get_energies() + ef, ours_e)
    assert np.allclose(ase_dos.get_dos(), ours["total"], rtol=1e-6, atol=1e-9)
    # ASE's own route: set a band path as kpts (recalculation), then Calculator.band_structure()
    path = graphene_calc.atoms.cell.bandpath("GMKG", npoints=60, pbc=[True, True, False])
    graphene_calc.set(kpts=path)
    assert len(graphene_calc.get_ibz_k_points()) == 60
    bs2 = graphene_calc.band_structure()
    assert bs2.energies.shape == (1, 60, 26)
    assert np.abs(bs2.energies[0, 0] - bs.energies[0, 0]).max() < 1e-9  # Fermi level still from the mesh


def test_openmx_band_file_is_reproduced():
    """tests/data/graphene_1x1/openmx.Band: OpenMX's own band line M -> X (eigenvalues in Hartree)."""
    lines = (run_dir("graphene_1x1") / "openmx.Band").read_text().splitlines()
    kpts, energies = [], []
    for head, values in zip(lines[4::2], lines[5::2]):
        kpts.append([float(x) for x in head.split()[1:4]])
        energies.append([float(x) * Hartree for x in values.split()])
    calc = HamiltonianCalculator.from_scfout(run_dir("graphene_1x1") / "openmx.scfout", kpts=np.array(kpts))
    calc.atoms.calc = calc
    ours = np.array([calc.get_eigenvalues(kpt=i) for i in range(len(kpts))])
    ef = calc.reference_energy
    window = np.abs(np.array(energies) - ef) < 10
    assert np.abs(ours[window] - np.array(energies)[window]).max() < 1e-4


def test_band_gap_of_mos2_and_pdos_sum_rule():
    calc = HamiltonianCalculator.from_scfout(run_dir("mos2_1x1") / "openmx.scfout", kpts=(9, 9, 1))
    gap = calc.band_gap()
    assert 1.5 < gap.gap < 1.9
    assert np.allclose(np.abs(gap.k_cbm), [1 / 3, 1 / 3, 0])  # conduction minimum at K
    e, dos = calc.dos(width=0.05, projection="element", npts=3001)
    assert set(dos) == {"total", "Mo", "S"}
    assert np.allclose(dos["Mo"] + dos["S"], dos["total"], atol=1e-8)
    assert np.trapezoid(dos["total"], e) == pytest.approx(2 * 45, rel=1e-3)  # 45 orbitals x 2 spins


def test_sparse_solver_on_a_supercell_matches_dense():
    data = read_scfout(run_dir("graphene_1x1") / "openmx.scfout")
    h, s = data.hamiltonian.tile((6, 6, 1)), data.overlap.tile((6, 6, 1))
    atoms = data.atoms.repeat((6, 6, 1))
    common = dict(basis=data.basis, n_electrons=4.0 * len(atoms), atoms=atoms, kpts=(1, 1, 1))
    dense = HamiltonianCalculator([h], s, method="dense", **common)
    sparse = HamiltonianCalculator([h], s, method="sparse", nbands=40, sigma=data.fermi_level, **common)
    assert sparse.get_fermi_level() == pytest.approx(dense.get_fermi_level(), abs=1e-9)
    window = sparse.get_eigenvalues(0)
    first = int(sparse.first_band[0, 0])
    assert np.abs(window - dense.get_eigenvalues(0)[first:first + len(window)]).max() < 1e-8
    with pytest.raises(PropertyNotImplementedError, match="needs every occupied state"):
        sparse.get_potential_energy(atoms)
    for wrong in (-6.0, +4.0):  # a window far from E_F moves until it brackets it
        moved = HamiltonianCalculator([h], s, method="sparse", nbands=40, sigma=None, **common)
        moved.reference_energy = data.fermi_level + wrong
        assert moved.get_fermi_level() == pytest.approx(dense.get_fermi_level(), abs=1e-9)


def test_spin_polarised_and_noncollinear_data(tmp_path):
    """Identical channels give the spinless result; a rigid 0.3 eV shift of spin down moves E_F by
    the amount that keeps the count (down has fewer electrons than up)."""
    src = run_dir("graphene_1x1") / "openmx.scfout"
    write_spin_variant(src, tmp_path / "col.scfout", 1)
    write_spin_variant(src, tmp_path / "nc.scfout", 3)
    from scfout_synth import sections
    sec = sections(src)
    write_spin_variant(src, tmp_path / "shift.scfout", 1, h_parts=[sec["H"], sec["H"] + 0.3 / Hartree * sec["S"]])
    shifted = HamiltonianCalculator.from_scfout(tmp_path / "shift.scfout", kpts=(9, 9, 1))
    shifted.atoms.calc = shifted
    up, down = shifted.get_eigenvalues(kpt=0, spin=0), shifted.get_eigenvalues(kpt=0, spin=1)
    assert np.allclose(down, up + 0.3, atol=1e-9)
    ref = HamiltonianCalculator.from_scfout(src, kpts=(6, 6, 1))
    col = HamiltonianCalculator.from_scfout(tmp_path / "col.scfout", kpts=(6, 6, 1))
    nc = HamiltonianCalculator.from_scfout(tmp_path / "nc.scfout", kpts=(6, 6, 1))
    for calc in (ref, col, nc):
        calc.atoms.calc = calc
    assert col.get_number_of_spins() == 2 and nc.get_number_of_spins() == 1
    assert nc.get_number_of_bands() == 2 * ref.get_number_of_bands()
    for calc in (col, nc):
        assert calc.get_fermi_level() == pytest.approx(ref.get_fermi_level(), abs=1e-6)
        assert calc.get_potential_energy() == pytest.approx(ref.get_potential_energy(), abs=1e-6)


def test_fixed_matrices_refuse_other_structures(graphene_calc):
    moved = graphene_calc.atoms.copy()
    moved.positions[0, 0] += 0.1
    with pytest.raises(ValueError, match="fixed structure"):
        graphene_calc.get_potential_energy(moved)
