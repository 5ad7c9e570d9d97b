"""Rotations of real spherical harmonics in numpy: real SH, J matrices, Wigner-D, edge frames.

The one implementation of these for the whole package (the readers, the overlap integrals, and
the network's edge frames, which turns the matrices into tensors).

Conventions (``DESIGN.md`` section 3):

* Real spherical harmonics in the Wikipedia order (m = -l..l; p: y, z, x), ``component``
  normalisation (sum_m Y_lm^2 = 2l + 1 on the unit sphere; orthonormal ones are these divided by
  sqrt(4 pi)). These are e3nn's irreps when e3nn is fed vectors permuted to (y, z, x).
* Angles are e3nn's: R(alpha, beta, gamma) = R_z(alpha) R_y(beta) R_z(gamma) in physical axes, and
  ``Y^l(R r) = D^l(R) Y^l(r)``.
* ``D^l = Z(alpha) J_l Z(beta) J_l Z(gamma)``, with Z the rotation about the polar axis (physical
  z; sparse: it couples m and -m) and J_l = D^l(R_J) for the proper rotation R_J: (x, y, z) ->
  (-x, z, y), which turns a rotation about z into one about x. J_l comes from an exact quadrature
  (Gauss-Legendre in cos(theta) x uniform phi integrates the products of two degree-l harmonics
  exactly), so it is accurate to rounding.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.special import roots_legendre, sph_harm_y

__all__ = ["real_sph_harm", "sphere_quadrature", "j_matrix", "wigner_D", "edge_angles", "rotation_matrix"]


def real_sph_harm(l: int, vectors: np.ndarray) -> np.ndarray:
    """Real SH of degree ``l`` at the directions of ``vectors`` (n, 3) -> (n, 2l+1), component norm.

    Y_{l,m} = sqrt(2) (-1)^m Im Y_l^{|m|} (m < 0), Y_l^0, sqrt(2) (-1)^m Re Y_l^m (m > 0), times
    sqrt(4 pi), from scipy's complex harmonics (which include the Condon-Shortley phase).
    """
    v = np.asarray(vectors, dtype=np.float64).reshape(-1, 3)
    r = np.linalg.norm(v, axis=1)
    if np.any(r == 0):
        raise ValueError("real_sph_harm: zero vector has no direction")
    theta = np.arccos(np.clip(v[:, 2] / r, -1.0, 1.0))
    phi = np.arctan2(v[:, 1], v[:, 0])
    out = np.empty((len(v), 2 * l + 1))
    for m in range(0, l + 1):
        y = sph_harm_y(l, m, theta, phi)
        if m == 0:
            out[:, l] = y.real
        else:
            sign = -1.0 if m % 2 else 1.0
            out[:, l + m] = math.sqrt(2) * sign * y.real
            out[:, l - m] = math.sqrt(2) * sign * y.imag
    return out * math.sqrt(4 * math.pi)


@lru_cache(maxsize=None)
def sphere_quadrature(degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Points (n, 3) on the unit sphere and weights (n,) summing to 4 pi, exact for polynomials up to ``degree``."""
    n = degree // 2 + 1
    x, w = roots_legendre(n)
    n_phi = degree + 1
    phi = np.arange(n_phi) * (2 * np.pi / n_phi)
    ct, ph = np.meshgrid(x, phi, indexing="ij")
    st = np.sqrt(1 - ct * ct)
    points = np.stack([st * np.cos(ph), st * np.sin(ph), ct], -1).reshape(-1, 3)
    weights = np.repeat(w, n_phi) * (2 * np.pi / n_phi)
    return points, weights


@lru_cache(maxsize=None)
def _j_matrix(l: int) -> np.ndarray:
    points, weights = sphere_quadrature(2 * l)
    rotated = np.stack([-points[:, 0], points[:, 2], points[:, 1]], axis=1)  # R_J r
    y, y_rot = real_sph_harm(l, points), real_sph_harm(l, rotated)
    j = (y_rot * weights[:, None]).T @ y / (4 * math.pi)  # int Y(R_J r) Y(r)^T: component norm -> / 4 pi
    j = 0.5 * (j + j.T)  # R_J is its own inverse: J is orthogonal and symmetric
    j[np.abs(j) < 1e-14] = 0.0
    j.setflags(write=False)
    return j


def j_matrix(l: int) -> np.ndarray:
    """J_l = D^l(R_J), (2l+1, 2l+1) float64 (read-only, cached)."""
    return _j_matrix(l)


def _rotate_rows(l: int, angle: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Z(angle) @ m for m (n, 2l+1, k): Z couples row r with row 2l - r (m and -m)."""
    phase = np.arange(l, -l - 1, -1, dtype=np.float64) * angle[:, None]
    return np.cos(phase)[:, :, None] * m + np.sin(phase)[:, :, None] * m[:, ::-1]


def wigner_D(l: int, alpha: np.ndarray, beta: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """D^l(R(alpha, beta, gamma)) for angles (n,) -> (n, 2l+1, 2l+1) float64, Y(R r) = D Y(r).

    Z(alpha) J Z(beta) J Z(gamma), the Z products applied as row/column operations: one dense
    product with the constant J per call.
    """
    alpha, beta, gamma = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (alpha, beta, gamma))
    j = j_matrix(l)
    phase = np.arange(l, -l - 1, -1, dtype=np.float64) * gamma[:, None]
    # J Z(gamma): column c = cos(f_c g) J[:, c] - sin(f_c g) J[:, 2l - c]
    jz = np.cos(phase)[:, None, :] * j - np.sin(phase)[:, None, :] * j[:, ::-1]
    return _rotate_rows(l, alpha, j @ _rotate_rows(l, beta, jz))


def edge_angles(vectors: np.ndarray, roll: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Angles of the edge frame R with R z_hat = r_hat, for bond vectors (n, 3) in physical axes.

    ``D(R)^T`` rotates features into the frame where the bond lies on the polar axis; ``D(R)``
    rotates back. beta = atan2(sqrt(x^2 + y^2), z) keeps full precision near the axis (acos(z)
    does not). The roll about the bond is free (an SO(2)-equivariant map does not see it): gamma =
    -alpha + ``roll``. With roll 0, R is the rotation about z_hat x r_hat, which tends to the identity
    as r_hat -> +z whatever alpha is, so bonds along or near +z do not inherit the arbitrary
    alpha of atan2(~0, ~0); bonds along -z get a rotation by pi.

    Args:
        vectors: (n, 3) bond vectors (any length > 0).
        roll: (n,) extra roll angles (radians), e.g. random in training; default 0.
    """
    v = np.asarray(vectors, dtype=np.float64).reshape(-1, 3)
    x, y, z = v[:, 0], v[:, 1], v[:, 2]
    alpha = np.arctan2(y, x)
    beta = np.arctan2(np.sqrt(x * x + y * y), z)
    gamma = -alpha if roll is None else np.asarray(roll, dtype=np.float64).reshape(-1) - alpha
    return alpha, beta, gamma


def rotation_matrix(alpha: np.ndarray, beta: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """(n, 3, 3) physical rotation matrices R_z(alpha) R_y(beta) R_z(gamma) (right-handed)."""
    def about(first: int, second: int, angle: np.ndarray) -> np.ndarray:
        c, s = np.cos(angle), np.sin(angle)
        out = np.zeros((len(angle), 3, 3))
        out[:, 3 - first - second, 3 - first - second] = 1.0
        out[:, first, first], out[:, first, second], out[:, second, first], out[:, second, second] = c, -s, s, c
        return out

    alpha, beta, gamma = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (alpha, beta, gamma))
    return about(0, 1, alpha) @ about(2, 0, beta) @ about(0, 1, gamma)
