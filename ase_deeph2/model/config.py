"""Hyperparameters of the ELCT network (a plain dataclass: it is stored inside model files)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..basis import BasisSet
from .layout import FeatureLayout


@dataclass
class ELCTConfig:
    """Everything that defines an ELCT model's architecture.

    Attributes:
        basis: element -> OpenMX basis string (``{"C": "C6.0-s2p2d1"}``); fixes the output blocks
            and the pair cutoffs (rc_i + rc_j, from the PAO radii).
        lmax: highest irrep l of the features; at least twice the highest orbital l.
        mmax: highest |m| kept in the edge-frame SO(2) layers (eSCN truncation; ``None`` = lmax).
        channels: node and edge feature channels per irrep.
        hidden: channels inside the SO(2) layers.
        n_blocks: number of ELCT blocks.
        n_heads: attention heads.
        n_rbf: radial basis functions of the scaled distance |r_ij| / (rc_i + rc_j).
        radial_hidden: width of the radial MLPs.
        species_dim: width of the species embedding entering every radial MLP.
        norm: ``"degree"`` (one RMS per l) or ``"joint"`` (one RMS over all l > 0); see
            :class:`~.layers.EquivariantLayerNorm`. Default chosen by ``benchmarks/tune_model.py``.
        norm_eps: epsilon inside the norms' square roots: bounds their gain by 1/sqrt(eps), which
            keeps the network smooth where whole degrees vanish by symmetry (flat sheets).
        avg_neighbors: normaliser of neighbour sums (set from data; 30 is typical for NAO cutoffs).
    """

    basis: dict[str, str]
    lmax: int = 4
    mmax: int | None = None
    channels: int = 32
    hidden: int = 32
    n_blocks: int = 3
    n_heads: int = 4
    n_rbf: int = 16
    radial_hidden: int = 64
    species_dim: int = 16
    norm: str = "degree"
    norm_eps: float = 1e-2
    avg_neighbors: float = 30.0

    def __post_init__(self) -> None:
        basis = self.basis_set
        need = 2 * max(basis[el].l_max for el in basis.elements)
        if self.lmax < need:
            raise ValueError(f"lmax = {self.lmax} is too small: orbitals up to l = {need // 2} need irreps up to {need}")
        if self.mmax is not None and not 0 <= self.mmax <= self.lmax:
            raise ValueError(f"mmax must be in 0..lmax, got {self.mmax}")
        if self.norm not in ("joint", "degree"):
            raise ValueError(f"norm must be 'joint' or 'degree', got {self.norm!r}")
        if self.hidden % self.n_heads:
            raise ValueError(f"hidden ({self.hidden}) must be divisible by n_heads ({self.n_heads})")

    @property
    def basis_set(self) -> BasisSet:
        return BasisSet.from_strings(self.basis)

    @property
    def elements(self) -> list[str]:
        """Elements in model order (sorted by atomic number); species index = position here."""
        return self.basis_set.elements

    @property
    def m_max(self) -> int:
        return self.lmax if self.mmax is None else self.mmax

    @property
    def layout(self) -> FeatureLayout:
        """The (l, m) row layout of the features."""
        return FeatureLayout(self.lmax, self.m_max)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ELCTConfig":
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"model configuration has unknown fields {sorted(unknown)}: saved by a newer version?")
        return cls(**data)
