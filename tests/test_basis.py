"""Orbital bases: OpenMX basis strings, orbital order, OpenMX -> Wikipedia permutations."""

import numpy as np
import pytest
from ase.units import Bohr

from ase_deeph2.basis import OPENMX_TO_WIKI, BasisSet, ElementBasis, openmx_to_wiki_permutation
from ase_deeph2.rotations import real_sph_harm


def test_parse_openmx_basis_strings():
    c = ElementBasis.from_string("C6.0-s2p2d1")
    assert c.element == "C" and c.ls == (0, 0, 1, 1, 2) and c.n_orbitals == 13
    assert c.cutoff == pytest.approx(6.0 * Bohr) and c.pao_name == "C6.0"
    mo = ElementBasis.from_string("Mo7.0-s3p2d2")
    assert mo.n_orbitals == 19 and mo.shell_counts == {0: 3, 1: 2, 2: 2}
    f = ElementBasis.from_string("Gd8.0-s2p2d2f1")
    assert f.n_orbitals == 2 + 6 + 10 + 7 and f.l_max == 3
    assert list(c.shell_offsets) == [0, 1, 2, 5, 8, 13]
    assert c.orbital_labels()[:5] == ["1s", "2s", "1py", "1pz", "1px"]


@pytest.mark.parametrize("bad", ["C6.0-x2", "C6.0", "6.0-s1", "C6.0-s2p2s1", "C6.0-s1g1h1"])
def test_unknown_basis_strings_are_named(bad):
    with pytest.raises(ValueError, match="basis"):
        ElementBasis.from_string(bad)


def test_unknown_element():
    with pytest.raises(ValueError, match="unknown chemical element 'Xx'"):
        ElementBasis.from_string("Xx6.0-s1")


def _openmx_real_harmonics(l: int, v: np.ndarray) -> np.ndarray:
    """OpenMX's real harmonics (unnormalised polynomials) in OpenMX's m order."""
    x, y, z = v.T
    if l == 1:
        return np.stack([x, y, z])
    if l == 2:
        return np.stack([3 * z**2 - 1, x**2 - y**2, x * y, x * z, y * z])
    return np.stack([z * (5 * z**2 - 3), x * (5 * z**2 - 1), y * (5 * z**2 - 1), z * (x**2 - y**2), x * y * z,
                     x * (x**2 - 3 * y**2), y * (3 * x**2 - y**2)])


@pytest.mark.parametrize("l", [1, 2, 3])
def test_permutation_maps_openmx_harmonics_onto_wikipedia_ones_without_signs(l):
    """After the permutation each OpenMX harmonic is a positive multiple of the Wikipedia/e3nn one."""
    v = np.random.default_rng(l).normal(size=(50, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    wiki = real_sph_harm(l, v).T
    openmx = _openmx_real_harmonics(l, v)[openmx_to_wiki_permutation(l)]
    ratio = openmx / wiki
    assert np.allclose(ratio, ratio[:, :1], rtol=1e-8, atol=0)
    assert np.all(ratio[:, 0] > 0)


def test_atom_permutation_and_inverse():
    mo = ElementBasis.from_string("Mo7.0-s3p2d2")
    assert list(mo.openmx_to_wiki[3:6]) == [4, 5, 3] and list(mo.openmx_to_wiki[9:14]) == [11, 13, 9, 12, 10]
    assert np.array_equal(mo.openmx_to_wiki[mo.wiki_to_openmx], np.arange(19))
    assert set(OPENMX_TO_WIKI) == {0, 1, 2, 3}
    with pytest.raises(ValueError, match="l = 4"):
        openmx_to_wiki_permutation(4)


def test_basis_set():
    bs = BasisSet.from_strings({"S": "S7.0-s2p2d1", "Mo": "Mo7.0-s3p2d2"})
    assert bs.elements == ["S", "Mo"]
    assert list(bs.orbital_counts(["Mo", "S", "S"])) == [19, 13, 13]
    assert bs.orbital_map() == {"S": [0, 0, 1, 1, 2], "Mo": [0, 0, 0, 1, 1, 2, 2]}
    with pytest.raises(ValueError, match=r"\['C'\] \(first at atom 1\)"):
        bs.orbital_counts(["Mo", "C"])
    same = BasisSet.from_orbital_map(bs.orbital_map(), names=bs.to_strings())
    assert same == bs
    with pytest.raises(ValueError, match="two different bases"):
        BasisSet([ElementBasis.from_string("C6.0-s2p2d1"), ElementBasis.from_string("C5.0-s1p1")])
