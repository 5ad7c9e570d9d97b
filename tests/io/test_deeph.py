"""DeepH new and legacy formats: exact round trips, the shared corpus, and bad folders."""

import json

import h5py
import numpy as np
import pytest
import scipy.linalg as sl

from ase_deeph2.io import DeepHFormatError, read_deeph, read_scfout, write_deeph
from conftest import SMALL_RUNS, run_dir, shared_path
from ase.dft.kpoints import monkhorst_pack


def _same(a, b):
    h, s = a.hamiltonian.aligned_to(b.hamiltonian), a.overlap.aligned_to(b.overlap)
    assert np.array_equal(h.data, b.hamiltonian.data) and np.array_equal(s.data, b.overlap.data)
    assert np.array_equal(a.atoms.positions, b.atoms.positions) and np.array_equal(a.atoms.cell, b.atoms.cell)
    assert a.symbols == b.symbols and a.basis == b.basis
    assert a.fermi_level == b.fermi_level and a.n_electrons == b.n_electrons


@pytest.mark.parametrize("name", SMALL_RUNS)
def test_scfout_new_legacy_and_back_are_identical(name, tmp_path):
    ref = read_scfout(run_dir(name) / "openmx.scfout")
    new = read_deeph(write_deeph(tmp_path / "new", ref))
    _same(new, ref)
    assert np.array_equal(new.hamiltonian.pairs, ref.hamiltonian.pairs)  # new format keeps the order
    legacy = read_deeph(write_deeph(tmp_path / "legacy", new, legacy=True))
    _same(legacy, ref)
    again = read_deeph(write_deeph(tmp_path / "again", legacy))
    _same(again, ref)
    assert again.info["valence_electrons"] == ref.info["valence_electrons"] != {}


def test_legacy_layout_is_openmx_order_one_based(tmp_path):
    ref = read_scfout(run_dir("graphene_1x1") / "openmx.scfout")
    folder = write_deeph(tmp_path / "legacy", ref, legacy=True)
    with h5py.File(folder / "hamiltonians.h5") as f:
        blk = f["[0, 0, 0, 1, 2]"][()]
    perm = ref.basis["C"].openmx_to_wiki
    assert np.array_equal(blk[np.ix_(perm, perm)], ref.hamiltonian.block(0, 1))
    assert (folder / "orbital_types.dat").read_text().splitlines() == ["0 0 1 1 2"] * 2
    assert np.allclose(np.loadtxt(folder / "lat.dat")[:, 1], ref.atoms.cell[1])  # vectors are columns
    info = json.loads((folder / "info.json").read_text())
    assert info["isspinful"] is False and info["fermi_level"] == ref.fermi_level


def test_new_format_matches_the_shared_corpus_layout(tmp_path):
    corpus = shared_path("graphene3x3", "graphene3x3_s0004")
    ours = write_deeph(tmp_path / "ours", read_deeph(corpus, orbital_order="trust"))
    for name in ("hamiltonian.h5", "overlap.h5"):
        with h5py.File(corpus / name) as a, h5py.File(ours / name) as b:
            assert set(a) == set(b)
            for key in a:
                assert a[key].dtype == b[key].dtype and np.array_equal(a[key][()], b[key][()])
    info_a, info_b = (json.loads((f / "info.json").read_text()) for f in (corpus, ours))
    assert {k: v for k, v in info_b.items() if k not in ("basis", "valence_electrons")} == info_a  # we add these two


def test_shared_corpus_is_physical():
    """Eigenvalues of a corpus structure put `occupation` electrons below its Fermi level."""
    data = read_deeph(shared_path("graphene3x3", "graphene3x3_s0004"), orbital_order="trust")
    assert data.basis["C"].name == "C6.0-s2p2d1" and data.info["basis_from"] == "openmx.dat"
    assert data.info["keywords"]["scf.kgrid"].split() == ["3", "3", "1"]  # the run's own input, parsed once
    assert data.hamiltonian.hermiticity_error() < 1e-7
    below = 0
    kpts = monkhorst_pack((3, 3, 1))
    for k in kpts:
        e = sl.eigvalsh(data.hamiltonian.to_dense(k), data.overlap.to_dense(k))
        below += 2 * np.sum(e < data.fermi_level)
    assert below / len(kpts) == pytest.approx(data.n_electrons, abs=0.5)


def test_corpus_orbital_order_is_detected_and_repaired():
    """The shared corpus stores p as (z, x, y) and d as (yz, xy, z2, x2-y2, xz), not the Wikipedia
    order its README states (eigenvalues cannot tell). The overlap's geometry reveals it."""
    from ase_deeph2.io.orbital_order import OrbitalOrderError, detect_m_permutations
    folder = shared_path("graphene3x3", "graphene3x3_s0004")
    raw = read_deeph(folder, orbital_order="trust")
    found = detect_m_permutations(raw)
    assert found[1].tolist() == [1, 2, 0] and found[2].tolist() == [1, 0, 2, 4, 3]
    with pytest.raises(OrbitalOrderError, match="not in Wikipedia real-SH order"):
        read_deeph(folder, orbital_order="check")
    with pytest.warns(UserWarning, match="reordered to Wikipedia order"):
        fixed = read_deeph(folder)
    assert all(np.array_equal(p, np.arange(len(p))) for p in detect_m_permutations(fixed).values())
    # physics of a nearly flat sheet: p_z (Wikipedia p index 1) and the out-of-plane d (yz, z2, xz)
    # lie above their in-plane partners on every atom
    for i in range(len(fixed.atoms)):
        e = np.diag(fixed.hamiltonian.block(i, i))
        assert e[3] > max(e[2], e[4]) + 3 and min(e[9], e[10], e[11]) > max(e[8], e[12]) + 3
    ours = read_scfout(run_dir("graphene_1x1") / "openmx.scfout")  # our reader needs no repair
    assert all(np.array_equal(p, np.arange(len(p))) for p in detect_m_permutations(ours).values())


@pytest.mark.parametrize("missing", ["POSCAR", "info.json", "hamiltonian.h5"])
def test_missing_file_is_named(missing, tmp_path):
    folder = write_deeph(tmp_path / "d", read_scfout(run_dir("graphene_1x1") / "openmx.scfout"))
    (folder / missing).unlink()
    with pytest.raises(DeepHFormatError, match=f"missing {missing}" if missing != "hamiltonian.h5" else "neither"):
        read_deeph(folder)


def test_legacy_missing_file_and_bad_key(tmp_path):
    folder = write_deeph(tmp_path / "d", read_scfout(run_dir("graphene_1x1") / "openmx.scfout"), legacy=True)
    (folder / "lat.dat").unlink()
    with pytest.raises(DeepHFormatError, match="legacy-format folder is missing lat.dat"):
        read_deeph(folder)
    folder = write_deeph(tmp_path / "e", read_scfout(run_dir("graphene_1x1") / "openmx.scfout"), legacy=True)
    with h5py.File(folder / "hamiltonians.h5", "a") as f:
        f["R=0 i=1 j=1"] = np.zeros((13, 13))
    with pytest.raises(DeepHFormatError, match="'R=0 i=1 j=1' is not of the form"):
        read_deeph(folder)


def test_inconsistent_chunks_and_non_folder(tmp_path):
    folder = write_deeph(tmp_path / "d", read_scfout(run_dir("graphene_1x1") / "openmx.scfout"))
    with h5py.File(folder / "hamiltonian.h5", "a") as f:
        del f["entries"]
        f["entries"] = np.zeros(10)
    with pytest.raises(DeepHFormatError, match="hamiltonian.h5: BlockMatrix: data must be 1D"):
        read_deeph(folder)
    with pytest.raises(DeepHFormatError, match="not a folder"):
        read_deeph(tmp_path / "nothing")


def test_write_replaces_atomically(tmp_path):
    data = read_scfout(run_dir("graphene_1x1") / "openmx.scfout")
    folder = write_deeph(tmp_path / "d", data)
    (folder / "stale.txt").write_text("old")
    write_deeph(folder, data)
    assert not (folder / "stale.txt").exists() and read_deeph(folder).hamiltonian.n_pairs == 92
    assert [p.name for p in tmp_path.iterdir()] == ["d"]  # no temporary leftovers
