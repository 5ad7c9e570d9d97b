"""Real spherical harmonics, J matrices, Wigner-D (J-matrix route) and edge frames, in numpy."""

import math

import numpy as np
import pytest
import torch
from e3nn import o3

from ase_deeph2 import rotations


def _angles(n, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0, s, n) for s in (2 * math.pi, math.pi, 2 * math.pi)]


@pytest.mark.parametrize("l", range(9))
def test_wigner_d_rotates_spherical_harmonics(l):
    a, b, g = _angles(20, l)
    R = rotations.rotation_matrix(a, b, g)
    r = np.random.default_rng(l).normal(size=(20, 3))
    y = rotations.real_sph_harm(l, r)
    y_rot = rotations.real_sph_harm(l, np.einsum("nij,nj->ni", R, r))
    D = rotations.wigner_D(l, a, b, g)
    assert np.abs(y_rot - np.einsum("nij,nj->ni", D, y)).max() < 1e-12
    assert np.abs(D @ D.transpose(0, 2, 1) - np.eye(2 * l + 1)).max() < 1e-13


def test_real_harmonics_are_e3nns_in_yzx_axes_with_component_normalisation():
    """DESIGN.md: e3nn fed (y, z, x) gives the Wikipedia real SH; independent reference: e3nn."""
    r = np.random.default_rng(1).normal(size=(30, 3))
    for l in range(7):
        ours = rotations.real_sph_harm(l, r)
        theirs = o3.spherical_harmonics(l, torch.from_numpy(r[:, [1, 2, 0]]), normalize=True,
                                        normalization="component").numpy()
        assert np.abs(ours - theirs).max() < 1e-12
        assert np.allclose((ours ** 2).sum(axis=1), 2 * l + 1)
    # Wikipedia's p order is (y, z, x) with positive signs
    assert np.allclose(rotations.real_sph_harm(1, np.array([[1.0, 2.0, 3.0]]))[0],
                       math.sqrt(3) * np.array([2.0, 3.0, 1.0]) / math.sqrt(14))


def test_l1_is_the_rotation_in_yzx_order():
    a, b, g = _angles(5)
    R = rotations.rotation_matrix(a, b, g)
    assert np.abs(rotations.wigner_D(1, a, b, g) - R[:, [1, 2, 0]][:, :, [1, 2, 0]]).max() < 1e-14
    assert np.abs(np.linalg.det(R) - 1).max() < 1e-14


def test_j_matrix_is_an_exact_symmetric_involution():
    for l in range(9):
        J = rotations.j_matrix(l)
        assert J.dtype == np.float64
        assert np.abs(J @ J - np.eye(2 * l + 1)).max() < 1e-14
        assert np.array_equal(J, J.T)
    # the same matrix e3nn builds from its generators
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        r_j = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
        for l in range(6):
            assert np.abs(rotations.j_matrix(l) - o3.wigner_D(l, *o3.matrix_to_angles(r_j)).numpy()).max() < 1e-13
    finally:
        torch.set_default_dtype(old)


def test_edge_frame_maps_polar_axis_to_bond_for_any_roll():
    v = np.random.default_rng(2).normal(size=(50, 3))
    for roll in (None, np.random.default_rng(3).uniform(0, 6, 50)):
        R = rotations.rotation_matrix(*rotations.edge_angles(v, roll))
        assert np.abs(R[:, :, 2] - v / np.linalg.norm(v, axis=1, keepdims=True)).max() < 1e-14


def test_edge_frame_is_continuous_at_the_north_pole():
    """With roll 0 the frame of a bond near +z is near the identity whatever its azimuth: no
    arbitrary angle of atan2(~0, ~0) reaches the frame."""
    for phi in np.linspace(0, 2 * math.pi, 7):
        for tilt in (0.0, 1e-9, 1e-6):
            v = np.array([[math.sin(tilt) * math.cos(phi), math.sin(tilt) * math.sin(phi), math.cos(tilt)]])
            R = rotations.rotation_matrix(*rotations.edge_angles(v))[0]
            assert np.abs(R - np.eye(3)).max() < 2 * tilt + 1e-15


def test_edge_frame_keeps_precision_near_the_axis():
    """acos(z) loses ~1e-8 of a 1e-8 rad tilt; atan2 keeps it."""
    v = np.array([[1e-8, 0.0, 1.0], [0.0, -2e-8, -1.0]])
    _, beta, _ = rotations.edge_angles(v)
    assert beta[0] == pytest.approx(1e-8, rel=1e-12)
    assert beta[1] == pytest.approx(math.pi - 2e-8, rel=1e-15)
