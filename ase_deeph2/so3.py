"""SO(3) tools shared by the model and the overlap integrals.

Axis convention (``DESIGN.md`` section 3): every Cartesian vector handed to e3nn is permuted to
``(y, z, x)``. Then e3nn's irreps are exactly the Wikipedia real spherical harmonics in the
orbital order of ``ase_deeph2.basis`` (l = 1: y, z, x), and e3nn's polar axis (its y) is
physical z. Angles below are e3nn's: ``R(alpha, beta, gamma) = Y(alpha) X(beta) Y(gamma)``
in e3nn axes, i.e. rotations about physical z, physical x, physical z.

Wigner-D matrices come from the J-matrix route ``D^l = Z(alpha) J_l Z(beta) J_l Z(gamma)``:
Z is the (sparse, analytic) rotation about the polar axis, and J_l = D^l(R_J) for the
proper rotation ``R_J`` (swap e3nn x and y, flip z), which turns a rotation about the polar axis
into one about x. J_l is generated once in float64 by a least-squares fit of real spherical
harmonics. Convention: ``Y^l(R r) = D^l(R) Y^l(r)``.

Real spherical harmonics use e3nn's ``"component"`` normalisation (sum_m Y_lm^2 = 2l + 1 on the
unit sphere) wherever they enter the network.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from e3nn import o3

__all__ = [
    "to_e3nn_axes",
    "spherical_harmonics",
    "z_rotation",
    "j_matrix",
    "wigner_D",
    "wigner_D_list",
    "edge_angles",
    "rotation_matrix",
    "wigner_3j",
]

_E3NN_AXES = [1, 2, 0]  # physical (x, y, z) -> e3nn (y, z, x)


def to_e3nn_axes(vectors: torch.Tensor) -> torch.Tensor:
    """Permute Cartesian vectors (..., 3) from physical (x, y, z) to e3nn's (y, z, x)."""
    return vectors[..., _E3NN_AXES]


def spherical_harmonics(lmax: int, vectors: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """Real SH Y_lm for l = 0..lmax of physical Cartesian vectors (n, 3) -> (n, (lmax + 1)^2).

    Wikipedia real-SH order (m = -l..l), e3nn ``component`` normalisation.
    """
    return o3.spherical_harmonics(list(range(lmax + 1)), to_e3nn_axes(vectors), normalize=normalize,
                                  normalization="component")


def z_rotation(l: int, angle: torch.Tensor) -> torch.Tensor:
    """D^l of a rotation by ``angle`` (n,) about the polar axis (physical z) -> (n, 2l+1, 2l+1).

    In the real-SH basis it couples m and -m only: a cos/sin 2x2 rotation at frequency |m|.
    """
    n = angle.shape[0]
    out = angle.new_zeros(n, 2 * l + 1, 2 * l + 1)
    idx = torch.arange(2 * l + 1, device=angle.device)
    freq = torch.arange(l, -l - 1, -1, dtype=angle.dtype, device=angle.device)  # +l .. -l
    out[:, idx, idx.flip(0)] = torch.sin(freq * angle[:, None])
    out[:, idx, idx] = torch.cos(freq * angle[:, None])  # after sin: the m = 0 entry is on both diagonals
    return out


def rotation_matrix(alpha: torch.Tensor, beta: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """Physical 3x3 rotation matrices (n, 3, 3) for e3nn angles (rotations z, x, z in physical axes)."""
    r_e3nn = o3.angles_to_matrix(alpha, beta, gamma)
    inv = [2, 0, 1]  # e3nn (y, z, x) -> physical (x, y, z)
    return r_e3nn[..., inv, :][..., :, inv]


@lru_cache(maxsize=None)
def _j_matrix64(l: int) -> torch.Tensor:
    """J_l = D^l(R_J) in float64, fitted once from real SH: Y(R_J r) = J_l Y(r)."""
    if l == 0:
        return torch.ones(1, 1, dtype=torch.float64)
    gen = torch.Generator().manual_seed(1234 + l)
    pts = torch.randn(8 * (2 * l + 1) + 16, 3, generator=gen, dtype=torch.float64)
    r_j = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]], dtype=torch.float64)  # e3nn axes
    y = o3.spherical_harmonics(l, pts, normalize=True, normalization="component")
    y_rot = o3.spherical_harmonics(l, pts @ r_j.T, normalize=True, normalization="component")
    sol = torch.linalg.lstsq(y, y_rot).solution  # y @ J^T = y_rot
    j = sol.T.contiguous()
    return torch.where(j.abs() < 1e-13, torch.zeros_like(j), j)


def j_matrix(l: int, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None) -> torch.Tensor:
    """J_l (2l+1, 2l+1): D^l of the rotation swapping e3nn x and y (and flipping z)."""
    return _j_matrix64(l).to(dtype=dtype, device=device)


def _rotate_rows(l: int, angle: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """z_rotation(l, angle) @ m for m (n, 2l+1, k), in O(n (2l+1) k): Z couples row r with row 2l - r."""
    freq = torch.arange(l, -l - 1, -1, dtype=angle.dtype, device=angle.device)
    phase = freq * angle[:, None]
    return torch.cos(phase)[:, :, None] * m + torch.sin(phase)[:, :, None] * m.flip(1)


def wigner_D(l: int, alpha: torch.Tensor, beta: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """D^l(R(alpha, beta, gamma)) for angles (n,) -> (n, 2l+1, 2l+1), with Y(R r) = D Y(r).

    Computed as Z(alpha) J Z(beta) J Z(gamma) where the Z products are applied as sparse row/column
    operations: one dense product with the constant J per call.
    """
    j = j_matrix(l, alpha.dtype, alpha.device)
    freq = torch.arange(l, -l - 1, -1, dtype=alpha.dtype, device=alpha.device)
    phase = freq * gamma[:, None]
    # J Z(gamma): column c = cos(f_c g) J[:, c] - sin(f_c g) J[:, 2l - c]
    jz = torch.cos(phase)[:, None, :] * j - torch.sin(phase)[:, None, :] * j.flip(1)
    return _rotate_rows(l, alpha, j @ _rotate_rows(l, beta, jz))


def wigner_D_list(lmax: int, alpha: torch.Tensor, beta: torch.Tensor, gamma: torch.Tensor) -> list[torch.Tensor]:
    """[D^0, ..., D^lmax], each (n, 2l+1, 2l+1)."""
    return [wigner_D(l, alpha, beta, gamma) for l in range(lmax + 1)]


def edge_angles(vectors: torch.Tensor, gamma: torch.Tensor | str | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Angles of the edge frame R with R e_polar = r_hat, for physical bond vectors (n, 3).

    ``D(R)^T`` rotates features into the frame where the bond lies on the polar axis
    (physical z); ``D(R)`` rotates back. beta = atan2(sqrt(x^2 + z^2), y) in e3nn axes, which keeps
    full precision for bonds close to the axis (acos(y) does not).

    Args:
        vectors: (n, 3) physical Cartesian bond vectors (any length > 0).
        gamma: roll about the bond: None (zero), ``"random"`` (uniform in [0, 2 pi)) or a tensor (n,).
    """
    v = to_e3nn_axes(vectors)
    x, y, z = v[:, 0], v[:, 1], v[:, 2]
    alpha = torch.atan2(x, z)
    beta = torch.atan2(torch.sqrt(x * x + z * z), y)
    if gamma is None:
        gamma = torch.zeros_like(alpha)
    elif isinstance(gamma, str):
        if gamma != "random":
            raise ValueError(f"gamma must be None, 'random' or a tensor, got {gamma!r}")
        gamma = torch.rand_like(alpha) * (2 * math.pi)
    return alpha, beta, gamma


@lru_cache(maxsize=None)
def _wigner_3j64(l1: int, l2: int, l3: int) -> torch.Tensor:
    return o3.wigner_3j(l1, l2, l3, dtype=torch.float64)


def wigner_3j(l1: int, l2: int, l3: int, dtype: torch.dtype = torch.float64,
              device: torch.device | str | None = None) -> torch.Tensor:
    """Real Wigner 3j tensor (2l1+1, 2l2+1, 2l3+1) in the Wikipedia real-SH basis (e3nn's).

    Wigner-Eckart: a block ``B_ab = sum_c W_abc x_c`` built from an irrep-l3 feature x transforms
    as ``D^l1 B D^l2^T`` when x transforms as ``D^l3 x``.
    """
    return _wigner_3j64(l1, l2, l3).to(dtype=dtype, device=device)
