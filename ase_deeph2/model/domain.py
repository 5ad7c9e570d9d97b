"""The training domain of a model: which environments it has seen, and a check of new structures.

Two descriptions are stored in the model file, both compact and both computed from the training
structures when training ends:

* **Pair distances** per element pair: a histogram (bins of ``bin_width`` Å) of every off-site
  pair distance up to the pair cutoff. A pair of a new structure is *unseen* when no training
  pair of its element pair lies within ``tolerance`` Å of its distance. This catches bonds
  shorter or longer than any in training and distances that fall between the neighbour shells
  (a rotated bond in graphene puts pairs at 1.8-2.2 Å, where no perturbed sheet has any).
* **Atomic environments** per element: the network's own final invariant node features (l = 0,
  ``channels`` numbers per atom). Their training mean and covariance define a Mahalanobis
  distance; an atom whose distance exceeds ``feature_margin`` times the largest training value
  is *unlike any training atom*. This sees changes of angles and of coordination that pair
  distances alone do not.

Structures drawn like the training set (perturbed, strained, larger supercells of it) stay
inside both; the tests check this and check a defect that is outside.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable

import numpy as np
from ase import Atoms

from ..graph import Pairs

__all__ = ["TrainingDomain", "DomainReport"]

BIN_WIDTH = 0.01  # Å
TOLERANCE = 0.05  # Å
FEATURE_MARGIN = 1.5
REGULARISATION = 1e-3  # of the mean feature variance, added to the covariance's diagonal


@dataclass
class DomainReport:
    """Findings of :meth:`TrainingDomain.check` for one structure.

    Attributes:
        unseen_pairs: element pair -> (number of pairs, example atoms (i, j), example distance Å).
        unusual_atoms: element -> (atom indices, their feature distances, the training maximum).
    """

    unseen_pairs: dict[str, tuple[int, tuple[int, int], float]]
    unusual_atoms: dict[str, tuple[list[int], list[float], float]]

    def __bool__(self) -> bool:
        return bool(self.unseen_pairs or self.unusual_atoms)

    def messages(self) -> list[str]:
        """One line per finding, naming atoms."""
        out = []
        for key, (n, (i, j), d) in sorted(self.unseen_pairs.items()):
            out.append(f"{n} {key} pair(s) at distances no training pair has (within ±{TOLERANCE} Å), "
                       f"e.g. atoms {i} and {j} at {d:.3f} Å")
        for el, (atoms, dist, limit) in sorted(self.unusual_atoms.items()):
            shown = ", ".join(str(a) for a in atoms[:8]) + (", ..." if len(atoms) > 8 else "")
            out.append(f"{len(atoms)} {el} atom(s) with environments unlike any training atom (atoms {shown}; "
                       f"feature distance up to {max(dist):.1f}, training at most {limit:.1f})")
        return out


@dataclass
class TrainingDomain:
    """Pair-distance histograms and node-feature statistics of a training set (see module docstring).

    Attributes:
        bin_width: histogram bin width, Å.
        pair_counts: "A-B" -> counts per bin [k * bin_width, (k + 1) * bin_width).
        feature_mean: element -> (C,) mean node features.
        feature_whitening: element -> (C, C) inverse square root of the regularised covariance.
        feature_max: element -> largest training Mahalanobis distance.
        tolerance: Å around a distance searched for training pairs.
        feature_margin: factor on ``feature_max`` before an atom counts as unusual.
    """

    bin_width: float
    pair_counts: dict[str, list[int]]
    feature_mean: dict[str, list[float]]
    feature_whitening: dict[str, list[list[float]]]
    feature_max: dict[str, float]
    tolerance: float = TOLERANCE
    feature_margin: float = FEATURE_MARGIN

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_structures(cls, items: Iterable[tuple[Atoms, Pairs, np.ndarray]], bin_width: float = BIN_WIDTH
                        ) -> "TrainingDomain":
        """From (structure, its pairs, its node features (N, C)) of every training structure."""
        counts: dict[str, np.ndarray] = {}
        features: dict[str, list[np.ndarray]] = {}
        for atoms, pairs, node_features in items:
            symbols = np.array(atoms.get_chemical_symbols())
            for el in set(symbols.tolist()):
                features.setdefault(el, []).append(np.asarray(node_features)[symbols == el])
            for key, d in _pair_distances(symbols, pairs).items():
                bins = np.floor(d / bin_width).astype(np.int64)
                hist = np.bincount(bins)
                old = counts.get(key, np.zeros(0, np.int64))
                size = max(len(old), len(hist))
                counts[key] = np.pad(old, (0, size - len(old))) + np.pad(hist, (0, size - len(hist)))
        mean, whitening, fmax = {}, {}, {}
        for el, parts in features.items():
            f = np.concatenate(parts)
            mu = f.mean(axis=0)
            cov = np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1]) if len(f) > 1 else np.eye(f.shape[1])
            cov += REGULARISATION * max(float(np.trace(cov)) / len(cov), 1e-12) * np.eye(len(cov))
            w, v = np.linalg.eigh(cov)
            white = v @ np.diag(w ** -0.5) @ v.T
            mean[el], whitening[el] = mu.tolist(), white.tolist()
            fmax[el] = float(np.linalg.norm((f - mu) @ white, axis=1).max())
        return cls(bin_width, {k: v.tolist() for k, v in sorted(counts.items())}, mean, whitening, fmax)

    # ------------------------------------------------------------------ checking
    def feature_distances(self, element: str, node_features: np.ndarray) -> np.ndarray:
        """(n,) Mahalanobis distances of node features (n, C) of atoms of ``element``."""
        mu = np.asarray(self.feature_mean[element])
        return np.linalg.norm((np.asarray(node_features) - mu) @ np.asarray(self.feature_whitening[element]), axis=1)

    def check(self, atoms: Atoms, pairs: Pairs, node_features: np.ndarray | None = None) -> DomainReport:
        """Which pairs and atoms of ``atoms`` lie outside the training domain.

        Args:
            pairs: the structure's pairs (on-site ones are ignored).
            node_features: (N, C) the model's node features for ``atoms``; None skips that check.
        """
        symbols = np.array(atoms.get_chemical_symbols())
        unseen = {}
        reach = int(np.ceil(self.tolerance / self.bin_width))
        for key, (d, i, j) in _pair_distances(symbols, pairs, with_atoms=True).items():
            hist = np.pad(np.asarray(self.pair_counts.get(key, []), dtype=np.int64), (0, reach))
            bins = np.floor(d / self.bin_width).astype(np.int64)
            covered = np.zeros(len(d), dtype=bool)
            if hist.any():
                support = np.convolve(hist > 0, np.ones(2 * reach + 1), mode="full")[reach:reach + len(hist)] > 0
                inside = bins < len(hist)
                covered[inside] = support[bins[inside]]
            bad = np.flatnonzero(~covered)
            if len(bad):
                k = bad[np.argmin(np.abs(d[bad] - np.median(d)))] if len(bad) < len(d) else bad[0]
                unseen[key] = (len(bad) // 2 or 1, (int(i[k]), int(j[k])), float(d[k]))
        unusual = {}
        if node_features is not None:
            for el in sorted(set(symbols.tolist())):
                sel = np.flatnonzero(symbols == el)
                if el not in self.feature_mean:
                    continue  # an element without training atoms has no pairs in training either: reported above
                dist = self.feature_distances(el, np.asarray(node_features)[sel])
                limit = self.feature_margin * self.feature_max[el]
                far = np.flatnonzero(dist > limit)
                if len(far):
                    order = far[np.argsort(-dist[far])]
                    unusual[el] = (sel[order].tolist(), dist[order].tolist(), self.feature_max[el])
        return DomainReport(unseen, unusual)

    # ------------------------------------------------------------------ storage
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainingDomain":
        return cls(**data)


def _pair_distances(symbols: np.ndarray, pairs: Pairs, with_atoms: bool = False) -> dict:
    """"A-B" -> off-site pair distances (Å) (and their atoms i, j when ``with_atoms``)."""
    off = ~pairs.onsite
    i, j = pairs.pairs[off, 3], pairs.pairs[off, 4]
    d = pairs.distances[off]
    keys = np.char.add(np.char.add(symbols[i], "-"), symbols[j])
    out = {}
    for key in sorted(set(keys.tolist())):
        sel = keys == key
        out[key] = (d[sel], i[sel], j[sel]) if with_atoms else d[sel]
    return out
