"""The OpenMX 3.9 .scfout reader against OpenMX's own numbers."""


import numpy as np
import pytest
import scipy.linalg as sl
from ase.units import Hartree

from ase_deeph2.io import ScfoutError, read_openmx_eigenvalues, read_scfout
from ase_deeph2.io.openmx import parse_openmx_input, valence_from_input
from conftest import ALL_RUNS, run_dir, snap_kpts
from scfout_synth import sections, write_spin_variant


@pytest.mark.parametrize("name", ALL_RUNS)
def test_eigenvalues_equal_openmx(name):
    """Reader, orbital permutation, R convention and Bloch sum checked together: bands = OpenMX's."""
    folder = run_dir(name)
    data = read_scfout(folder / "openmx.scfout")
    ref = read_openmx_eigenvalues(folder / "openmx.out")
    mesh = [int(x) for x in data.info["keywords"]["scf.kgrid"].split()]
    kpts = snap_kpts(ref["kpts"], mesh)
    worst = 0.0
    for ik, k in enumerate(kpts):
        ours = sl.eigvalsh(data.hamiltonian.to_dense(k), data.overlap.to_dense(k))
        theirs = ref["eigenvalues"][0, ik]
        window = np.abs(theirs - data.fermi_level) < 10.0
        worst = max(worst, np.abs(ours[:len(theirs)][window] - theirs[window]).max())
    assert worst < 1e-4, f"{name}: max |E_ours - E_openmx| = {worst:.2e} eV"
    assert data.fermi_level == pytest.approx(ref["chemical_potential"], abs=1e-9)


@pytest.mark.parametrize("name", ALL_RUNS)
def test_structure_basis_and_symmetry(name):
    data = read_scfout(run_dir(name) / "openmx.scfout")
    assert data.spin == "none" and data.hamiltonian.hermiticity_error() == 0.0
    assert data.overlap.hermiticity_error() == 0.0
    assert data.info["hermiticity_error_eV"] < 1e-7  # OpenMX's own noise that was averaged away
    onsite = [data.overlap.block(i, i) for i in range(len(data.atoms))]
    assert all(np.abs(np.diag(b) - 1.0).max() < 0.02 for b in onsite)  # normalised radial functions
    assert all(np.linalg.eigvalsh(b).min() > 0.1 for b in onsite)
    dat = (run_dir(name) / "openmx.dat").read_text()
    assert f"Atoms.Number {len(data.atoms)}" in dat
    if name.startswith("mos2"):
        assert data.symbols[:3] == ["Mo", "S", "S"] and data.n_electrons == pytest.approx(26.0 * len(data.atoms) / 3)
        assert data.basis["Mo"].name == "Mo7.0-s3p2d2"
    else:
        assert set(data.symbols) == {"C"} and data.n_electrons == pytest.approx(4.0 * len(data.atoms))
    first = dat.split("<Atoms.SpeciesAndCoordinates")[1].splitlines()[1].split()
    assert np.allclose(data.atoms.positions[0], [float(x) for x in first[2:5]], atol=1e-6)


def test_ase_reader_fails_where_ours_reads():
    from ase.calculators.openmx.reader import read_scfout_file
    path = run_dir("graphene_1x1") / "openmx.scfout"
    with pytest.raises(Exception):
        read_scfout_file(str(path))
    assert read_scfout(path).hamiltonian.n_pairs == 92


def test_collinear_file_gives_two_channels(tmp_path):
    """Spin down written as spin up + 0.02 Hartree x S: every down eigenvalue is the up one + 0.544 eV
    (a swapped or mixed channel fails)."""
    src = run_dir("graphene_1x1") / "openmx.scfout"
    sec = sections(src)
    write_spin_variant(src, tmp_path / "c.scfout", spin_switch=1, h_parts=[sec["H"], sec["H"] + 0.02 * sec["S"]])
    data, ref = read_scfout(tmp_path / "c.scfout"), read_scfout(src)
    assert data.spin == "collinear" and len(data.hamiltonians) == 2
    assert np.abs(data.hamiltonians[0].data - ref.hamiltonian.data).max() < 1e-12
    k = (0.21, 0.07, 0.0)
    up, down = (sl.eigvalsh(h.to_dense(k), data.overlap.to_dense(k)) for h in data.hamiltonians)
    assert np.allclose(down - up, 0.02 * Hartree, atol=1e-9)
    with pytest.raises(ValueError, match="hamiltonians\\[0\\]"):
        data.hamiltonian


def test_noncollinear_without_spin_mixing_doubles_bands(tmp_path):
    src = run_dir("graphene_1x1") / "openmx.scfout"
    write_spin_variant(src, tmp_path / "nc.scfout", spin_switch=3)
    data, ref = read_scfout(tmp_path / "nc.scfout"), read_scfout(src)
    assert data.spin == "noncollinear" and data.hamiltonian.spinful
    k = (0.21, 0.07, 0.0)
    e = sl.eigvalsh(ref.hamiltonian.to_dense(k), ref.overlap.to_dense(k))
    e2 = sl.eigvalsh(data.hamiltonian.to_dense(k), data.overlap.to_spinor().to_dense(k))
    assert np.abs(np.repeat(e, 2) - e2).max() < 1e-9


def test_noncollinear_with_spin_orbit_parts_is_hermitian(tmp_path):
    """Made-up SOC-like parts: iH antisymmetric, up-down block arbitrary. H(k) must be Hermitian."""
    from ase_deeph2.blocks import BlockMatrix
    src = run_dir("graphene_1x1") / "openmx.scfout"
    sec = sections(src)
    raw = read_scfout(src, symmetrize=False)
    pairs_openmx_order = raw.hamiltonian.pairs  # pair order is the file's either way
    x = BlockMatrix(pairs_openmx_order, sec["S"] * 0.01, raw.hamiltonian.orbital_counts)
    antisym = x.data - x.symmetrize().data  # X - (X + X^T)/2: iH(i,j,R) = -iH(j,i,-R)^T
    rng = np.random.default_rng(3)
    ud_re, ud_im = rng.normal(size=sec["n"]) * 1e-3, rng.normal(size=sec["n"]) * 1e-3
    write_spin_variant(src, tmp_path / "soc.scfout", 3, h_parts=[sec["H"], sec["H"], ud_re, ud_im],
                       ih_parts=[antisym, -antisym, np.zeros(sec["n"])])
    h = read_scfout(tmp_path / "soc.scfout", symmetrize=False).hamiltonian  # no repair: the layout alone
    assert h.hermiticity_error() < 2e-8  # OpenMX's own real parts are symmetric to 1e-8 eV only
    hk = h.to_dense((0.3, 0.1, 0.0))
    assert np.abs(hk - hk.conj().T).max() < 1e-7
    # the up-down block of pair (0, 1, R=0) is Hks2 + i Hks3 of the file, orbitals permuted to Wikipedia order
    p = int(np.flatnonzero((raw.hamiltonian.pairs == [0, 0, 0, 0, 1]).all(axis=1))[0])
    start = raw.hamiltonian.offsets[p]
    perm = raw.basis["C"].openmx_to_wiki
    expected = (ud_re + 1j * ud_im)[start:start + 169].reshape(13, 13)[np.ix_(perm, perm)] * Hartree
    assert np.abs(h.block(0, 1)[:13, 13:] - expected).max() < 1e-12
    imag_uu = antisym[start:start + 169].reshape(13, 13)[np.ix_(perm, perm)] * Hartree
    assert np.abs(h.block(0, 1)[:13, :13] - (sec["H"][start:start + 169].reshape(13, 13)[np.ix_(perm, perm)]
                                           * Hartree + 1j * imag_uu)).max() < 1e-12


def test_other_version_is_refused(tmp_path):
    buf = bytearray((run_dir("graphene_1x1") / "openmx.scfout").read_bytes())
    buf[4:8] = np.array([0], "<i4").tobytes()  # version 0: OpenMX 3.8 or older
    path = tmp_path / "old.scfout"
    path.write_bytes(bytes(buf))
    with pytest.raises(ScfoutError, match=r"old.scfout: .scfout format version 0 \(OpenMX 3.7, 3.8 or older\)"):
        read_scfout(path)


def test_truncated_file_is_named(tmp_path):
    buf = (run_dir("graphene_1x1") / "openmx.scfout").read_bytes()
    for cut in (20, 5000, len(buf) // 2, len(buf) - 3000):
        path = tmp_path / f"cut{cut}.scfout"
        path.write_bytes(buf[:cut])
        with pytest.raises(ScfoutError, match=f"cut{cut}.scfout"):
            read_scfout(path)


def test_text_file_is_not_a_scfout(tmp_path):
    path = tmp_path / "notes.scfout"
    path.write_text("this is an OpenMX input, not its binary output\n" * 10)
    with pytest.raises(ScfoutError, match="notes.scfout: the header does not look like an OpenMX .scfout"):
        read_scfout(path)
    with pytest.raises(ScfoutError, match="cannot read"):
        read_scfout(tmp_path / "missing.scfout")


def test_unknown_basis_string_in_embedded_input(tmp_path):
    buf = (run_dir("graphene_1x1") / "openmx.scfout").read_bytes()
    bad = buf.replace(b" C C6.0-s2p2d1 C_PBE19", b" C C6.0-q2p2d1 C_PBE19")
    assert bad != buf
    path = tmp_path / "bad_basis.scfout"
    path.write_bytes(bad)
    with pytest.raises(ScfoutError, match="bad_basis.scfout: unknown basis string 'C6.0-q2p2d1'"):
        read_scfout(path)


def test_openmx_out_parser_errors(tmp_path):
    path = tmp_path / "openmx.out"
    path.write_text("OpenMX stopped early\n")
    with pytest.raises(ValueError, match="is this a finished OpenMX .out log"):
        read_openmx_eigenvalues(path)


def test_valence_electrons_from_the_input_and_only_when_they_add_up():
    data = read_scfout(run_dir("mos2_1x1") / "openmx.scfout")
    assert data.info["valence_electrons"] == {"Mo": 14.0, "S": 6.0} and data.n_electrons == 26.0
    parsed = parse_openmx_input(data.info["input"])
    assert valence_from_input(parsed, 26.0) == {"Mo": 14.0, "S": 6.0}
    assert valence_from_input(parsed, 25.0) == {}  # a charged cell: the initial occupations are not the valence
    parsed["atom_electrons"][1] += 1.0  # the two S atoms disagree
    assert valence_from_input(parsed) == {}
