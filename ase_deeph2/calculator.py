"""DeepH2Calculator: an ASE calculator whose Hamiltonian is predicted by a DeepH-2 (ELCT) model.

::

    from ase.build import graphene
    from ase_deeph2 import DeepH2Calculator

    atoms = graphene(a=2.46, vacuum=7.5).repeat((10, 10, 1))
    atoms.calc = DeepH2Calculator("graphene-openmx")       # a shipped model, or a model file
    atoms.calc.get_fermi_level()
    atoms.calc.band_structure().plot()

For each structure: neighbour list (vesin) -> model -> H(R) (eV, BlockMatrix), and the exact overlap
S(R) from the two-centre tables stored in the model file -> everything
:class:`~ase_deeph2.hamiltonian_calculator.HamiltonianCalculator` offers (eigenvalues, Fermi level,
band structure, DOS, gap; sparse shift-invert for large cells). The matrices are predicted once per
structure and reused by every property until the atoms change.
"""

from __future__ import annotations

import warnings
from os import PathLike
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from ase import Atoms

from .blocks import BlockMatrix
from .graph import Pairs, overlap_pairs
from .hamiltonian_calculator import HamiltonianCalculator
from .io.data import HamiltonianData
from .model import LoadedModel, load_model
from .overlap import OverlapTables
from .pretrained import pretrained_path

__all__ = ["DeepH2Calculator", "OutOfDomainWarning", "resolve_model", "out_of_domain_pairs"]

#: Bond lengths further than this (Å) outside the training range trigger an OutOfDomainWarning.
DOMAIN_TOLERANCE = 0.05

#: Edges per model evaluation chunk: bounds the memory of inference on large structures.
DEFAULT_EDGE_CHUNK = 100_000


class OutOfDomainWarning(UserWarning):
    """The structure has bonds the model never saw in training: predictions there are extrapolations."""


def resolve_model(model: str | PathLike | LoadedModel, device: str | torch.device | None = None,
                  dtype: torch.dtype | str | None = None) -> LoadedModel:
    """A loaded model from a shipped model's name, a model file path, or an already loaded model."""
    if isinstance(dtype, str):
        dtype = {"float32": torch.float32, "float64": torch.float64}.get(dtype)
        if dtype is None:
            raise ValueError("dtype must be 'float32' or 'float64'")
    if isinstance(model, LoadedModel):
        if device is not None or dtype is not None:
            model.model.to(device=device or model.model.cutoffs.device, dtype=dtype or model.model.cutoffs.dtype)
        return model
    path = Path(model)
    if not path.suffix and not path.exists():  # a name like "graphene-openmx"
        path = pretrained_path(str(model))
    return load_model(path, device=device, dtype=dtype or torch.float32)


def out_of_domain_pairs(atoms: Atoms, found: Pairs, distance_range: dict[str, Sequence[float]],
                        tolerance: float = DOMAIN_TOLERANCE) -> list[str]:
    """Messages for the element pairs whose bond lengths leave the training range.

    Args:
        found: the off-site and on-site pairs of ``atoms`` (on-site pairs are ignored).
        distance_range: ``{"C-C": [min, max]}`` in Å, as stored in the model metadata.
        tolerance: Å beyond the range before a pair counts as outside.
    Returns: one message per element pair, naming the shortest (or longest) offending bond's atoms.
    """
    symbols = np.array(atoms.get_chemical_symbols())
    d = found.distances
    offsite = d > 1e-8
    i, j, d = found.pairs[offsite, 3], found.pairs[offsite, 4], d[offsite]
    messages = []
    for key in sorted(set(np.char.add(np.char.add(symbols[i], "-"), symbols[j]).tolist())):
        a, b = key.split("-")
        sel = np.flatnonzero((symbols[i] == a) & (symbols[j] == b))
        if key not in distance_range:
            messages.append(f"{key}: no {key} pairs in the training set (e.g. atoms {i[sel[0]]} and {j[sel[0]]}, "
                            f"{d[sel[0]]:.3f} Å)")
            continue
        lo, hi = distance_range[key]
        short = sel[d[sel] < lo - tolerance]
        long = sel[d[sel] > hi + tolerance]
        if len(short):
            k = short[np.argmin(d[short])]
            messages.append(f"{key}: {len(short) // 2 or 1} bond(s) shorter than the training minimum {lo:.3f} Å, "
                            f"shortest {d[k]:.3f} Å between atoms {i[k]} and {j[k]}")
        if len(long):
            k = long[np.argmax(d[long])]
            messages.append(f"{key}: {len(long) // 2 or 1} pair(s) farther than the training maximum {hi:.3f} Å, "
                            f"longest {d[k]:.3f} Å between atoms {i[k]} and {j[k]}")
    return messages


class DeepH2Calculator(HamiltonianCalculator):
    """ASE calculator with a DeepH-2 predicted H(R) and the exact S(R), for any structure.

    Args:
        model: the name of a shipped model (``ase_deeph2.pretrained.available_models()``), a model
            file, or a :class:`~ase_deeph2.model.LoadedModel`.
        device: "cpu", "cuda", ... (default: CUDA when present).
        dtype: network precision, ``torch.float32`` (default) or ``torch.float64``; H(R) is float64.
        edge_chunk: edges per network evaluation (memory bound for large structures).
        valence_electrons: ``{"C": 4.0}`` electrons per atom; default from the model's training data.
        pao_dirs: folders with the PAO files, only for model files without stored overlap tables.
        check_domain: warn (:class:`OutOfDomainWarning`) about bonds outside the training range.
        **kwargs: the :class:`HamiltonianCalculator` parameters (kpts, fermi_kpts, smearing, method,
            nbands, sigma, symmetry, ...).
    """

    def __init__(self, model: str | PathLike | LoadedModel = "graphene-openmx", device: str | None = None,
                 dtype: torch.dtype | str | None = None, edge_chunk: int | None = DEFAULT_EDGE_CHUNK,
                 valence_electrons: dict[str, float] | None = None, pao_dirs: Sequence[str | PathLike] = (),
                 check_domain: bool = True, **kwargs: Any):
        self.loaded = resolve_model(model, device, dtype)
        config = self.loaded.config
        meta = self.loaded.metadata
        if "overlap" in self.loaded.extras:
            self.tables = OverlapTables.from_state(self.loaded.extras["overlap"])
        elif pao_dirs:
            self.tables = OverlapTables.from_pao(config.basis_set, pao_dirs)
        else:
            raise ValueError(f"{self.loaded.path}: the model file holds no overlap tables; pass pao_dirs= (folders "
                             "with the PAO files of its basis) or train with data.pao_dirs set")
        self.valence = dict(meta.get("valence_electrons", {}))
        self.valence.update(valence_electrons or {})
        fermi = meta.get("fermi_level_eV")
        super().__init__(basis=config.basis_set, reference_energy=None if fermi is None else float(fermi[1]),
                         **kwargs)
        self.edge_chunk, self.check_domain = edge_chunk, check_domain
        self._predicted: tuple[Atoms, list[BlockMatrix], BlockMatrix] | None = None

    @property
    def model(self):
        """The ELCT network (``torch.nn.Module``)."""
        return self.loaded.model

    def __repr__(self) -> str:
        return f"DeepH2Calculator({self.loaded!r})"

    # ------------------------------------------------------------------ prediction
    def _electrons(self, symbols: list[str]) -> float:
        missing = sorted(set(symbols) - set(self.valence))
        if missing:
            raise ValueError(f"the model file does not say how many valence electrons {missing} have; pass "
                             f"valence_electrons={{{', '.join(repr(m) + ': ...' for m in missing)}}}")
        return float(sum(self.valence[s] for s in symbols))

    def _matrices(self, atoms: Atoms) -> tuple[list[BlockMatrix], BlockMatrix]:
        """Predicted H(R) and exact S(R) of ``atoms``, computed once per structure."""
        cached = self._predicted
        if cached is not None and _same_structure(cached[0], atoms):
            return cached[1], cached[2]
        symbols = atoms.get_chemical_symbols()
        self.basis.check_symbols(symbols, where=f"{type(self).__name__} ({self.loaded.path})")
        self.n_electrons = self._electrons(symbols)
        found = overlap_pairs(atoms, self.basis.cutoffs(symbols))
        if self.check_domain and "distance_range" in self.loaded.metadata:
            messages = out_of_domain_pairs(atoms, found, self.loaded.metadata["distance_range"])
            if messages:
                warnings.warn("structure outside the model's training range (predictions are extrapolated): "
                              + "; ".join(messages), OutOfDomainWarning, stacklevel=3)
        hamiltonian = self.model.predict(atoms, edge_chunk=self.edge_chunk, pairs=found.pairs)
        overlap = self.tables.overlap_matrix(atoms, pairs=found)
        self._predicted = (atoms.copy(), [hamiltonian], overlap)
        return [hamiltonian], overlap

    def get_hamiltonian(self, atoms: Atoms | None = None) -> BlockMatrix:
        """Predicted H(R) (eV, Wikipedia orbital order) of ``atoms`` (default: the attached atoms)."""
        return self._matrices(self._target(atoms))[0][0]

    def get_overlap(self, atoms: Atoms | None = None) -> BlockMatrix:
        """Exact S(R) (dimensionless) of ``atoms``, on the same pairs as :meth:`get_hamiltonian`."""
        return self._matrices(self._target(atoms))[1]

    def get_data(self, atoms: Atoms | None = None) -> HamiltonianData:
        """The prediction as :class:`HamiltonianData` (what ``read_scfout`` returns)."""
        atoms = self._target(atoms)
        (h,), s = self._matrices(atoms)
        return HamiltonianData(atoms.copy(), self.basis, [h], s, fermi_level=None, n_electrons=self.n_electrons,
                               source=f"predicted by {self.loaded.path}", info={"model": self.loaded.path})

    def write_deeph(self, folder: str | PathLike, atoms: Atoms | None = None, legacy: bool = False) -> Path:
        """Write the predicted H(R) and S(R) as a DeepH folder (new format, or ``legacy=True``)."""
        from .io import write_deeph
        return write_deeph(folder, self.get_data(atoms), legacy=legacy)

    def _target(self, atoms: Atoms | None) -> Atoms:
        if atoms is not None:
            return atoms
        self._follow_attached()
        if self.atoms is None:
            raise ValueError("no atoms: attach the calculator (atoms.calc = calc) or pass atoms")
        return self.atoms


def _same_structure(a: Atoms, b: Atoms) -> bool:
    return (len(a) == len(b) and np.array_equal(a.numbers, b.numbers) and np.array_equal(a.pbc, b.pbc)
            and np.array_equal(a.positions, b.positions) and np.array_equal(a.cell.array, b.cell.array))
