"""k-point specifications: ASE's mesh rules, spglib's wedge, molecules, paths."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import graphene, molecule
from ase.dft.kpoints import monkhorst_pack

from ase_deeph2.electronic.kpoints import Mesh, is_path, mesh_of, path_kpoints


def sheet():
    g = graphene(a=2.46, vacuum=7.5)
    g.pbc = (True, True, False)
    return g


def test_meshes_follow_asess_rules_and_keep_vacuum_directions_single():
    g = sheet()
    assert mesh_of(g, (9, 9, 9)) == Mesh((9, 9, 1), False)
    assert mesh_of(g, None) == Mesh((15, 15, 1), True)  # 2 pi |b| * 5 = 14.7 -> 15, Γ-centred
    assert mesh_of(g, {"density": 3.0}).size == (9, 9, 1)
    assert mesh_of(g, {"size": (4, 4, 1), "gamma": True}) == Mesh((4, 4, 1), True)
    k, w = Mesh((4, 4, 1), True).points(g, symmetry=False)
    assert np.any(np.all(np.abs(k) < 1e-12, axis=1)) and w.sum() == pytest.approx(1.0)
    k_plain, _ = Mesh((4, 4, 1), False).points(g, symmetry=False)
    assert np.allclose(np.sort(k_plain, axis=0), np.sort(monkhorst_pack((4, 4, 1)), axis=0))
    with pytest.raises(ValueError, match="three positive integers"):
        mesh_of(g, (0, 3, 1))
    with pytest.raises(ValueError, match="exactly one of"):
        mesh_of(g, {"size": (3, 3, 1), "density": 2})


def test_irreducible_wedge_weights_equal_the_full_mesh_count():
    k, w = Mesh((9, 9, 1), False).points(sheet(), symmetry=True)
    assert np.all(k[:, 2] == 0) and w.sum() == pytest.approx(1.0) and len(k) == 12
    assert np.allclose(np.sort(w * 81), np.sort(np.round(w * 81)))  # integer multiplicities


def test_a_molecule_gets_gamma_alone_without_spglib():
    ring = molecule("C6H6")
    mesh = mesh_of(ring, None)
    assert mesh.size == (1, 1, 1)
    k, w = mesh.points(ring, symmetry=True)
    assert np.array_equal(k, np.zeros((1, 3))) and np.array_equal(w, [1.0])


def test_paths():
    g = sheet()
    assert is_path({"path": "GMKG"}) and is_path(np.zeros((3, 3))) and not is_path((3, 3, 1)) and not is_path(None)
    assert len(path_kpoints(g, {"path": "GMKG", "npoints": 30})) == 30
    with pytest.raises(ValueError, match=r"\(nk, 3\)"):
        path_kpoints(g, np.zeros((3, 2)))
