"""Fermi level from the electron count with smearing, occupations, band energy, band gap.

Eigenvalues are given per spin channel and k point as arrays (n_spin, n_k, n_bands) in eV, with
the k weights summing to 1 and, for windows of states (sparse solver), the global index of each
window's first band: every state below a window counts as filled, every state above as empty.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from ase.units import kB
from scipy.optimize import brentq
from scipy.special import erfc, expit, log_ndtr, logsumexp

__all__ = ["Smearing", "electron_count", "find_fermi_level", "band_energy", "band_gap", "BandGap"]


@dataclass(frozen=True)
class Smearing:
    """Occupation function: ``kind`` "fermi-dirac" or "gaussian", ``width`` in eV (kT for Fermi-Dirac).

    The default is Fermi-Dirac at 300 K, as in the shared OpenMX runs.
    """

    kind: str = "fermi-dirac"
    width: float = float(kB * 300.0)

    def __post_init__(self) -> None:
        if self.kind not in ("fermi-dirac", "gaussian"):
            raise ValueError(f"smearing must be 'fermi-dirac' or 'gaussian', got {self.kind!r}")
        if not self.width > 0:
            raise ValueError(f"smearing width must be > 0 eV, got {self.width}")

    def occupation(self, energies: np.ndarray, mu: float) -> np.ndarray:
        """Fraction of each state occupied (0..1)."""
        x = (np.asarray(energies) - mu) / self.width
        return expit(-x) if self.kind == "fermi-dirac" else 0.5 * erfc(x)


def _filled_below(first_band: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    return np.zeros(shape) if first_band is None else np.asarray(first_band, dtype=np.float64).reshape(shape)


def electron_count(eigenvalues: np.ndarray, weights: np.ndarray, mu: float, smearing: Smearing,
                   spin_degeneracy: float, first_band: np.ndarray | None = None) -> float:
    """Electrons per cell at chemical potential ``mu`` (states below each window count as filled)."""
    eig = np.asarray(eigenvalues)
    below = _filled_below(first_band, eig.shape[:2])
    per_k = below + np.nansum(smearing.occupation(eig, mu), axis=2)
    return float(spin_degeneracy * np.sum(per_k * np.asarray(weights)[None, :]))


def _log_occupation(smearing: Smearing, x: np.ndarray) -> np.ndarray:
    """log f(x) for x = e - mu (accurate far in the tail)."""
    t = np.asarray(x) / smearing.width
    return -np.logaddexp(0.0, t) if smearing.kind == "fermi-dirac" else log_ndtr(-np.sqrt(2.0) * t)


def find_fermi_level(eigenvalues: np.ndarray, weights: np.ndarray, n_electrons: float, smearing: Smearing = Smearing(),
                     spin_degeneracy: float = 2.0, first_band: np.ndarray | None = None) -> float:
    """Chemical potential (eV) at which the states hold ``n_electrons`` per cell.

    When the electron count fills the states exactly up to a gap (an insulator at T = 0), the
    chemical potential is where the thermal electrons above it balance the holes below it; that
    balance is solved in log space, so it is well defined even when both are 1e-30.

    Args:
        eigenvalues: (n_spin, n_k, n_bands) eV; NaN for missing states.
        weights: (n_k,) k weights summing to 1.
        spin_degeneracy: 2 for spinless H, 1 for collinear channels or spinor (non-collinear) H.
        first_band: (n_spin, n_k) global index of each window's first state (sparse solver), or None.
    """
    eig = np.asarray(eigenvalues, dtype=np.float64)
    if eig.ndim != 3:
        raise ValueError(f"eigenvalues must be (n_spin, n_k, n_bands), got shape {eig.shape}")
    w = np.broadcast_to(spin_degeneracy * np.asarray(weights, dtype=np.float64)[None, :, None], eig.shape)
    base = float(spin_degeneracy * np.sum(_filled_below(first_band, eig.shape[:2]) * np.asarray(weights)[None, :]))
    ok = np.isfinite(eig)
    e, we = eig[ok], w[ok]
    order = np.argsort(e, kind="stable")
    e, we = e[order], we[order]
    filled = base + np.cumsum(we)  # electrons at T = 0 with the chemical potential just above e[i]
    if base > n_electrons + 1e-9 or filled[-1] < n_electrons - 1e-9:
        raise ValueError(f"{n_electrons:g} electrons cannot be placed: the listed states hold {base:g} to "
                         f"{filled[-1]:g}; with a window of states (sparse solver) ask for more bands near E_F")
    i = int(np.searchsorted(filled, n_electrons - 1e-9))
    gap_top = e[i + 1] if i + 1 < len(e) else np.inf
    if abs(filled[i] - n_electrons) < 1e-9 and gap_top > e[i] + 10 * smearing.width and np.isfinite(gap_top):
        # a real gap: the electron count is flat to 1e-30 inside it, so balance in log space
        lw = np.log(we)

        def balance(mu: float) -> float:  # log(electrons above) - log(holes below)
            return float(logsumexp(lw[i + 1:] + _log_occupation(smearing, e[i + 1:] - mu))
                         - logsumexp(lw[:i + 1] + _log_occupation(smearing, mu - e[:i + 1])))

        mu = brentq(balance, e[i], gap_top, xtol=1e-13, rtol=1e-15, maxiter=500)
    else:
        lo, hi = e[0] - 40 * smearing.width, e[-1] + 40 * smearing.width
        count = lambda m: electron_count(eig, weights, m, smearing, spin_degeneracy, first_band) - n_electrons
        mu = brentq(count, lo, hi, xtol=1e-13, rtol=1e-15, maxiter=500)
    if first_band is not None:
        window_lo, window_hi = np.nanmin(eig[..., 0]), np.nanmax(eig[..., -1])
        if not (window_lo + 5 * smearing.width < mu < window_hi - 5 * smearing.width):
            warnings.warn(f"Fermi level {mu:.4f} eV lies within 5 smearing widths of the edge of the computed window "
                          f"[{window_lo:.4f}, {window_hi:.4f}] eV; ask for more bands", RuntimeWarning, stacklevel=2)
    return float(mu)


def band_energy(eigenvalues: np.ndarray, weights: np.ndarray, mu: float, smearing: Smearing,
                spin_degeneracy: float) -> float:
    """sum over states of f_n e_n per cell (eV): the energy this package reports as ``energy``."""
    eig = np.asarray(eigenvalues)
    occ = smearing.occupation(eig, mu)
    return float(spin_degeneracy * np.nansum(occ * eig * np.asarray(weights)[None, :, None]))


@dataclass
class BandGap:
    """Band gap (eV) with the k points (fractional) of the valence maximum and conduction minimum.

    ``metal`` is True when the valence band reaches above the conduction band (bands cross the
    Fermi level); ``gap`` is then 0.
    """

    gap: float
    direct: bool
    vbm: float
    cbm: float
    k_vbm: np.ndarray
    k_cbm: np.ndarray
    metal: bool = False

    def __str__(self) -> str:
        if self.metal:
            return (f"no gap: a metal (the highest filled band reaches {self.vbm:.4f} eV at k = "
                    f"{np.round(self.k_vbm, 4).tolist()}, above the lowest empty one at {self.cbm:.4f} eV)")
        kind = "direct" if self.direct else "indirect"
        return (f"{kind} gap {self.gap:.4f} eV: VBM {self.vbm:.4f} eV at k = {np.round(self.k_vbm, 4).tolist()}, "
                f"CBM {self.cbm:.4f} eV at k = {np.round(self.k_cbm, 4).tolist()}")

    def insulating(self, above: float = 0.1) -> bool:
        """True when the gap exceeds ``above`` eV (band edges, not E_F, are then the reference)."""
        return self.gap > above

    def states_near_edges(self, eigenvalues: np.ndarray, fermi_level: float, width: float = 1.0,
                          insulator_above: float = 0.1) -> np.ndarray:
        """Boolean mask (shape of ``eigenvalues``, eV) of the states that set the low-energy physics:
        within ``width`` eV below the VBM or above the CBM (and all of the gap) when the gap exceeds
        ``insulator_above`` eV, else within ``width`` eV of ``fermi_level`` (metals, semimetals)."""
        e = np.asarray(eigenvalues)
        if self.insulating(insulator_above):
            return (e > self.vbm - width) & (e < self.cbm + width)
        return np.abs(e - fermi_level) < width


def band_gap(eigenvalues: np.ndarray, kpts: np.ndarray, fermi_level: float, n_filled: int | None = None,
             first_band: np.ndarray | None = None) -> BandGap:
    """Band gap (eV) with the k points of the valence-band maximum and conduction-band minimum.

    With ``n_filled`` (bands filled per k and spin channel, e.g. n_electrons / 2 for spinless H) the
    valence band is band ``n_filled - 1`` and the conduction band the next one, by index: this is
    robust for semimetals whose touching states sit a hair above or below E_F (graphene's Dirac
    point). Without it, states are split at ``fermi_level``. Bands crossing (metals) give gap 0.

    Args:
        eigenvalues: (n_spin, n_k, n_bands) eV, NaN for missing states.
        kpts: (n_k, 3) fractional k.
        first_band: (n_spin, n_k) global index of each row's first state (sparse windows).
    """
    eig = np.asarray(eigenvalues, dtype=np.float64)
    if n_filled is not None:
        first = np.zeros(eig.shape[:2], dtype=np.int64) if first_band is None else np.asarray(first_band, dtype=np.int64)
        iv = n_filled - 1 - first
        ok = (iv >= 0) & (iv + 1 < eig.shape[2])
        safe = np.clip(iv, 0, eig.shape[2] - 2)[..., None]
        vb_s = np.where(ok, np.take_along_axis(eig, safe, axis=2)[..., 0], np.nan)
        cb_s = np.where(ok, np.take_along_axis(eig, safe + 1, axis=2)[..., 0], np.nan)
        vb, cb = np.nanmax(np.where(np.isnan(vb_s), -np.inf, vb_s), axis=0), np.nanmin(np.where(np.isnan(cb_s), np.inf, cb_s), axis=0)
    else:
        vb = np.where(eig <= fermi_level, eig, -np.inf).max(axis=(0, 2))  # per k
        cb = np.where(eig > fermi_level, eig, np.inf).min(axis=(0, 2))
    kv, kc = int(np.argmax(vb)), int(np.argmin(cb))
    vbm, cbm = float(vb[kv]), float(cb[kc])
    if not (np.isfinite(vbm) and np.isfinite(cbm)):
        raise ValueError("no states on one side of the Fermi level: cannot define a gap from these bands")
    metal = cbm < vbm - 1e-9
    gap = 0.0 if metal else max(0.0, cbm - vbm)
    direct = bool(np.isclose(vb[kc], vbm, atol=1e-9) or kv == kc) and not metal
    return BandGap(gap, direct, vbm, cbm, np.asarray(kpts)[kv], np.asarray(kpts)[kc], metal)
