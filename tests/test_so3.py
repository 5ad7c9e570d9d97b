"""Wigner-D matrices (J-matrix route), edge frames, real SH, Wigner 3j."""

import math

import pytest
import torch

from ase_deeph2 import so3



def _angles(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(n, generator=g, dtype=torch.float64) * s for s in (2 * math.pi, math.pi, 2 * math.pi)]


@pytest.mark.parametrize("l", range(9))
def test_wigner_d_rotates_spherical_harmonics(l):
    a, b, g = _angles(20, l)
    R = so3.rotation_matrix(a, b, g)
    r = torch.randn(20, 3, dtype=torch.float64)
    y = so3.spherical_harmonics(l, r)[:, l * l:]
    y_rot = so3.spherical_harmonics(l, torch.einsum("nij,nj->ni", R, r))[:, l * l:]
    D = so3.wigner_D(l, a, b, g)
    assert (y_rot - torch.einsum("nij,nj->ni", D, y)).abs().max() < 1e-13
    eye = torch.eye(2 * l + 1, dtype=torch.float64)
    assert (D @ D.transpose(1, 2) - eye).abs().max() < 1e-13


def test_l1_is_the_rotation_in_yzx_order():
    a, b, g = _angles(5)
    R = so3.rotation_matrix(a, b, g)
    assert (so3.wigner_D(1, a, b, g) - R[:, [1, 2, 0]][:, :, [1, 2, 0]]).abs().max() < 1e-14
    assert (torch.det(R) - 1).abs().max() < 1e-14


def test_j_matrix_is_an_involution_made_once_in_float64():
    for l in range(7):
        J = so3.j_matrix(l)
        assert J.dtype == torch.float64
        assert (J @ J - torch.eye(2 * l + 1, dtype=torch.float64)).abs().max() < 1e-13


def test_edge_frame_maps_polar_axis_to_bond_for_any_roll():
    v = torch.randn(50, 3, dtype=torch.float64)
    for gamma in (None, "random"):
        R = so3.rotation_matrix(*so3.edge_angles(v, gamma))
        assert (R[:, :, 2] - v / v.norm(dim=1, keepdim=True)).abs().max() < 1e-14


def test_edge_frame_keeps_precision_near_the_axis():
    """acos(y) loses ~1e-3 of a 1e-4 rad tilt in float32; atan2 keeps it."""
    v = torch.tensor([[1e-4, 0.0, 1.0], [0.0, -2e-4, -1.0]], dtype=torch.float32)
    _, beta, _ = so3.edge_angles(v)
    assert beta[0].item() == pytest.approx(math.atan2(1e-4, 1.0), rel=1e-5)
    assert beta[1].item() == pytest.approx(math.pi - 2e-4, rel=1e-6)


def test_wigner_3j_gives_equivariant_blocks():
    a, b, g = _angles(1, 3)
    for l1, l2, l in [(1, 1, 2), (2, 1, 3), (2, 2, 4), (1, 2, 1)]:
        W = so3.wigner_3j(l1, l2, l)
        x = torch.randn(2 * l + 1, dtype=torch.float64)
        D1, D2, D3 = (so3.wigner_D(k, a, b, g)[0] for k in (l1, l2, l))
        block = torch.einsum("abc,c->ab", W, x)
        assert (D1 @ block @ D2.T - torch.einsum("abc,c->ab", W, D3 @ x)).abs().max() < 1e-13
    with pytest.raises(ValueError, match="gamma"):
        so3.edge_angles(torch.ones(1, 3), "spin")
