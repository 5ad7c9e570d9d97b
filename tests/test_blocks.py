"""BlockMatrix: lookup, symmetry, Bloch sums, supercell tiling, grouping, spinors."""

import numpy as np
import pytest
import scipy.linalg as sl

from ase_deeph2.blocks import BlockMatrix
from ase_deeph2.io import read_scfout
from conftest import run_dir


@pytest.fixture(scope="module")
def graphene():
    return read_scfout(run_dir("graphene_1x1") / "openmx.scfout")


def test_lookup_and_partner(graphene):
    h = graphene.hamiltonian
    blk = h.block(0, 1, (0, 0, 0))
    assert blk.shape == (13, 13)
    assert np.array_equal(h.block(1, 0, (0, 0, 0)), blk.T)
    partner = h.partner()
    assert np.all(partner >= 0) and np.array_equal(partner[partner], np.arange(h.n_pairs))
    assert np.array_equal(h.find(h.pairs), np.arange(h.n_pairs))
    with pytest.raises(KeyError, match=r"no block for atoms \(0, 1\) at R = \(9, 9, 9\)"):
        h.block(0, 1, (9, 9, 9))


def test_constructor_rejects_inconsistent_data():
    pairs = np.array([[0, 0, 0, 0, 0]])
    with pytest.raises(ValueError, match="data must be 1D with 4 entries"):
        BlockMatrix(pairs, np.zeros(5), [2])
    with pytest.raises(ValueError, match="atom index out of range"):
        BlockMatrix(np.array([[0, 0, 0, 0, 3]]), np.zeros(4), [2])
    with pytest.raises(ValueError, match="offsets disagree"):
        BlockMatrix(pairs, np.zeros(4), [2], offsets=np.array([0, 3]))


def test_symmetrize_and_hermiticity(graphene):
    h = graphene.hamiltonian
    assert h.hermiticity_error() == 0.0
    noisy = h.with_data(h.data + np.random.default_rng(0).normal(scale=1e-3, size=h.data.shape))
    assert noisy.hermiticity_error() > 1e-4
    assert noisy.symmetrize().hermiticity_error() == 0.0
    missing = h.select(np.arange(h.n_pairs) != 3)
    assert missing.hermiticity_error() == np.inf
    with pytest.raises(ValueError, match="no partner"):
        missing.symmetrize()


def test_bloch_matches_a_direct_sum(graphene):
    """The cached CSR Bloch sum (with several R per (i, j) in a 1x1 cell) equals the textbook sum."""
    h = graphene.hamiltonian
    k = np.array([0.13, -0.31, 0.0])
    direct = np.zeros((h.n_orbitals, h.n_orbitals), complex)
    start = h.atom_offsets
    for (i, j, R), blk in h:
        direct[start[i]:start[i + 1], start[j]:start[j + 1]] += np.exp(2j * np.pi * np.dot(k, R)) * blk
    assert np.abs(h.to_dense(k) - direct).max() < 1e-13
    assert np.abs(direct - direct.conj().T).max() < 1e-13
    many = h.bloch_many(np.array([k, -k]))
    assert np.abs(many[1].toarray() - direct.conj()).max() < 1e-13
    with pytest.raises(ValueError, match="shape"):
        h.bloch([0.0, 0.0])


def test_tiled_supercell_folds_the_primitive_bands(graphene):
    """Eigenvalues of the 3x2x1 supercell at Gamma = primitive eigenvalues at the 6 folded k-points."""
    h, s = graphene.hamiltonian, graphene.overlap
    hs, ss = h.tile((3, 2, 1)), s.tile((3, 2, 1))
    assert hs.n_atoms == 12 and hs.hermiticity_error() == 0.0
    # no duplicates of (i, j) across R in a big enough supercell means a pure-gather Bloch plan
    sc = np.sort(sl.eigvalsh(hs.to_dense(), ss.to_dense()))
    folded = [sl.eigvalsh(h.to_dense(k), s.to_dense(k)) for k in
              [(a / 3, b / 2, 0) for a in range(3) for b in range(2)]]
    assert np.abs(sc - np.sort(np.concatenate(folded))).max() < 1e-9
    atoms = graphene.atoms.repeat((3, 2, 1))
    p = hs.pairs
    vec = atoms.positions[p[:, 4]] + p[:, :3] @ atoms.cell.array - atoms.positions[p[:, 3]]
    pp = h.pairs
    prim = graphene.atoms.positions[pp[:, 4]] + pp[:, :3] @ graphene.atoms.cell.array - graphene.atoms.positions[pp[:, 3]]
    assert np.abs(vec - np.tile(prim, (6, 1))).max() < 1e-9  # tiled pairs are the same bonds


def test_groups_permutation_and_selection():
    mos2 = read_scfout(run_dir("mos2_1x1") / "openmx.scfout")
    h, kinds = mos2.hamiltonian, mos2.kinds
    groups = h.groups(kinds)
    assert sorted(g.kinds for g in groups) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert sum(len(g.pair_index) for g in groups) == h.n_pairs
    g = next(g for g in groups if g.kinds == (1, 0))  # Mo-S: 19 x 13
    assert g.shape == (19, 13)
    stack = h.data[g.entry_index].reshape(-1, 19, 13)
    assert np.array_equal(stack[0], h.block_at(g.pair_index[0]))
    perm = {0: np.arange(13)[::-1].copy(), 1: np.roll(np.arange(19), 3)}
    back = {k: np.argsort(p) for k, p in perm.items()}
    assert np.array_equal(h.permute_orbitals(kinds, perm).permute_orbitals(kinds, back).data, h.data)
    sub = h.select_species(kinds, 1, 0)
    assert sub.n_pairs == len(g.pair_index) and np.array_equal(sub.data, stack.ravel())


def test_error_stats_aligns_pairs(graphene):
    h = graphene.hamiltonian
    shuffled = h.select(np.random.default_rng(1).permutation(h.n_pairs))
    assert shuffled.error_stats(h) == {"mae": 0.0, "rmse": 0.0, "max_abs": 0.0}
    shifted = h.with_data(h.data + 0.002)
    stats = shifted.error_stats(h)
    assert stats["mae"] == pytest.approx(0.002) and stats["max_abs"] == pytest.approx(0.002)
    with pytest.raises(KeyError, match="missing"):
        h.select(np.arange(5)).error_stats(h)


def test_to_spinor_doubles_every_band(graphene):
    h, s = graphene.hamiltonian, graphene.overlap
    k = (0.2, 0.1, 0.0)
    e = sl.eigvalsh(h.to_dense(k), s.to_dense(k))
    es = sl.eigvalsh(h.to_spinor().to_dense(k), s.to_spinor().to_dense(k))
    assert np.abs(np.repeat(e, 2) - es).max() < 1e-10
    assert not h.to_spinor().block(0, 0)[:13, 13:].any()  # no spin mixing
