"""The orbital-order check and repair on data we permute ourselves: every l, both directions,
two species with different bases, and the permutation of the shared graphene corpus."""

import numpy as np
import pytest

from ase_deeph2.io import read_deeph, read_scfout, write_deeph
from ase_deeph2.io.orbital_order import OrbitalOrderError, detect_m_permutations
from conftest import run_dir

#: The shared graphene3x3 corpus's order: p as (z, x, y), d as (yz, xy, z², x²−y², xz)
#: (stored[k] = wikipedia[P[k]] with Wikipedia p = (y, z, x), d = (xy, yz, z², xz, x²−y²)).
CORPUS_ORDER = {1: [1, 2, 0], 2: [1, 0, 2, 4, 3]}


def permuted(data, order):
    """A copy of ``data`` whose l-shells store wikipedia[order[l][k]] at position k."""
    perms = {}
    for k, el in enumerate(data.basis.elements):
        eb = data.basis[el]
        perms[k] = np.concatenate([start + np.asarray(order.get(l, range(2 * l + 1)))
                                   for start, l in zip(eb.shell_offsets, eb.ls)])
    out = read_scfout(data.source)
    out.hamiltonians = [h.permute_orbitals(data.kinds, perms) for h in data.hamiltonians]
    out.overlap = data.overlap.permute_orbitals(data.kinds, perms)
    return out


@pytest.mark.parametrize("order", [CORPUS_ORDER, {1: [2, 0, 1], 2: [4, 3, 2, 1, 0]}, {1: [0, 2, 1]},
                                   {2: [2, 0, 1, 3, 4]}])
def test_a_permuted_mos2_is_detected_and_restored(order, tmp_path):
    data = read_scfout(run_dir("mos2_1x1") / "openmx.scfout")
    bad = permuted(data, order)
    found = detect_m_permutations(bad)
    for l in (1, 2):
        assert found[l].tolist() == list(order.get(l, range(2 * l + 1)))
    write_deeph(tmp_path / "bad", bad)
    with pytest.raises(OrbitalOrderError, match=r"not in Wikipedia real-SH order \(l="):
        read_deeph(tmp_path / "bad", orbital_order="check")
    with pytest.warns(UserWarning, match="reordered to Wikipedia order"):
        repaired = read_deeph(tmp_path / "bad", orbital_order="auto")
    assert np.array_equal(repaired.hamiltonian.aligned_to(data.hamiltonian).data, data.hamiltonian.data)
    assert np.array_equal(repaired.overlap.aligned_to(data.overlap).data, data.overlap.data)
    trusted = read_deeph(tmp_path / "bad", orbital_order="trust")  # left as stored
    assert np.array_equal(trusted.overlap.aligned_to(bad.overlap).data, bad.overlap.data)


def test_wikipedia_order_passes_silently_and_bad_signs_are_refused(tmp_path):
    data = read_scfout(run_dir("graphene_1x1") / "openmx.scfout")
    assert all(np.array_equal(p, np.arange(len(p))) for p in detect_m_permutations(data).values())
    flipped = read_scfout(run_dir("graphene_1x1") / "openmx.scfout")
    eb = flipped.basis["C"]
    sign = np.ones(eb.n_orbitals)
    p_start = eb.shell_offsets[list(eb.ls).index(1)]
    sign[p_start] = -1.0  # one p orbital with the opposite sign convention: no permutation explains it
    flipped.overlap = flipped.overlap.with_data(
        flipped.overlap.data * np.concatenate([np.outer(sign, sign).ravel()] * flipped.overlap.n_pairs))
    # (all blocks are 13 x 13 here, so the sign pattern repeats block by block)
    with pytest.raises(OrbitalOrderError, match="l = 1 orbitals match no ordering"):
        detect_m_permutations(flipped)
