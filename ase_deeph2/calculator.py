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
:class:`~ase_deeph2.hamiltonian_calculator.HamiltonianCalculator` offers. The matrices are
predicted once per structure and reused by every property until the atoms change.

Models trained with ``data.interlayer_step`` learnt bilayers without their interlayer potential
step (set by the charge the whole cell moves between its layers, which no local model sees); for a
bilayer the calculator restores it self-consistently on the Fermi-level k mesh,
V = kappa / A * Dq(V) (:mod:`ase_deeph2.electronic.interlayer`), and reports it as ``calc.layer_step``.
"""

from __future__ import annotations

import os
import warnings
from os import PathLike
from pathlib import Path
from typing import Any, Sequence

import torch
from ase import Atoms
from ase.calculators.calculator import compare_atoms

from .blocks import BlockMatrix
from .electronic import Smearing, mesh_of
from .electronic.interlayer import LayerCharge, LayerStep, cell_area, layer_mesh_points, solve_layer_step, two_layers
from .electronic.solvers import DENSE_LIMIT
from .graph import overlap_pairs
from .hamiltonian_calculator import _NOT_STRUCTURE, HamiltonianCalculator
from .io.data import HamiltonianData
from .model import DomainReport, LoadedModel, load_model, predict
from .model.inference import DEFAULT_ATOM_CHUNK, predict_distributed
from .overlap import OverlapTables
from .pretrained import pretrained_path

__all__ = ["DeepH2Calculator", "OutOfDomainWarning", "resolve_model"]

#: Edges per model evaluation chunk: bounds the memory of inference on large structures.
DEFAULT_EDGE_CHUNK = 100_000


class OutOfDomainWarning(UserWarning):
    """The structure has pairs or atomic environments the model never saw in training: predictions
    there are extrapolations."""


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


class DeepH2Calculator(HamiltonianCalculator):
    """ASE calculator with a DeepH-2 predicted H(R) and the exact S(R), for any structure.

    Args:
        model: the name of a shipped model (``ase_deeph2.pretrained.available()``), a model file,
            or a :class:`~ase_deeph2.model.LoadedModel`.
        device: "cpu", "cuda", ... (default: CUDA when present).
        dtype: network precision, ``torch.float32`` (default) or ``torch.float64``; H(R) is float64.
        edge_chunk: edges per network evaluation (memory bound for large structures).
        atom_chunk: core atoms per group of the network evaluation (memory bound for very large
            structures; see :mod:`ase_deeph2.model.inference`); None = one pass.
        valence_electrons: ``{"C": 4.0}`` electrons per atom; default from the model's training data.
        pao_dirs: folders with the PAO files, only for model files without stored overlap tables.
        check_domain: warn (:class:`OutOfDomainWarning`) about pairs and atoms unlike any in training.
        distributed: share the network evaluation out over the processes of a ``torchrun`` job
            (:func:`~ase_deeph2.model.inference.predict_distributed`); default: when WORLD_SIZE > 1.
        interlayer_step: restore the self-consistent interlayer step of bilayers (dense, up to
            3000 orbitals); default: when the model carries an interlayer coupling.
        **kwargs: the :class:`HamiltonianCalculator` parameters (kpts, fermi_kpts, smearing, method,
            nbands, sigma, symmetry, progress, ...).
    """

    def __init__(self, model: str | PathLike | LoadedModel = "graphene-openmx", device: str | None = None,
                 dtype: torch.dtype | str | None = None, edge_chunk: int | None = DEFAULT_EDGE_CHUNK,
                 atom_chunk: int | None = DEFAULT_ATOM_CHUNK, valence_electrons: dict[str, float] | None = None,
                 pao_dirs: Sequence[str | PathLike] = (), check_domain: bool = True, distributed: bool | None = None,
                 interlayer_step: bool | None = None, **kwargs: Any):
        self.loaded = resolve_model(model, device, dtype)
        config, meta = self.loaded.config, self.loaded.metadata
        if "overlap" in self.loaded.extras:
            self.tables = OverlapTables.from_state(self.loaded.extras["overlap"])
        elif pao_dirs:
            self.tables = OverlapTables.from_pao(config.basis_set, pao_dirs)
        else:
            raise ValueError(f"{self.loaded.path}: the model file holds no overlap tables; pass pao_dirs= (folders "
                             "with the PAO files of its basis) or train with data.pao_dirs set")
        self.valence = {**meta.valence_electrons, **(valence_electrons or {})}
        super().__init__(basis=config.basis_set,
                         reference_energy=None if meta.fermi_levels is None else meta.fermi_levels.mean, **kwargs)
        self.edge_chunk, self.atom_chunk, self.check_domain = edge_chunk, atom_chunk, check_domain
        self.distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1 if distributed is None else distributed
        self.domain_report: DomainReport | None = None
        self._predicted: tuple[Atoms, list[BlockMatrix], BlockMatrix] | None = None
        coupling = meta.interlayer
        if interlayer_step and coupling is None:
            raise ValueError(f"{self.loaded.path}: the model has no interlayer coupling (it was not trained with "
                             "data.interlayer_step); interlayer_step=True needs one")
        self.coupling = coupling if interlayer_step is not False else None
        self.layer_step: LayerStep | None = None
        self._stepped: tuple[BlockMatrix, tuple, BlockMatrix, LayerStep] | None = None

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
        """Predicted H(R) (with a bilayer's interlayer step, when the model has one) and exact S(R) of
        ``atoms``, the prediction computed once per structure."""
        (h,), overlap = self._predict(atoms)
        return [self._with_layer_step(atoms, h, overlap)], overlap

    def _with_layer_step(self, atoms: Atoms, h: BlockMatrix, overlap: BlockMatrix) -> BlockMatrix:
        """``h`` plus the self-consistent interlayer step on the Fermi-level mesh (``h`` when there is none)."""
        self.layer_step = None
        layer = None if self.coupling is None else two_layers(atoms, self.coupling.gap)
        if layer is None:
            return h
        if h.n_orbitals > DENSE_LIMIT:
            warnings.warn(f"the interlayer step is solved with dense eigenproblems up to {DENSE_LIMIT} orbitals; this "
                          f"bilayer has {h.n_orbitals}, so H has none (in large cells it averages out)", stacklevel=4)
            return h
        mesh, smearing = mesh_of(atoms, self.fermi_spec()), Smearing(*self.parameters.smearing)
        key = (mesh, smearing)
        if self._stepped is None or self._stepped[0] is not h or self._stepped[1] != key:
            kpts, weights = layer_mesh_points(atoms, mesh, layer)
            charge = LayerCharge(h, overlap, layer, self.n_electrons, kpts, weights, smearing)
            solution = solve_layer_step(charge, self.coupling.coupling, cell_area(atoms))
            self._stepped = (h, key, h.with_data(h.data + solution.step * charge.operator.data), solution)
        self.layer_step = self._stepped[3]
        return self._stepped[2]

    def _predict(self, atoms: Atoms) -> tuple[list[BlockMatrix], BlockMatrix]:
        """Predicted H(R) and exact S(R) of ``atoms``, computed once per structure."""
        cached = self._predicted
        if cached is not None and len(cached[0]) == len(atoms) and \
                not compare_atoms(cached[0], atoms, tol=0.0, excluded_properties=_NOT_STRUCTURE):
            return cached[1], cached[2]
        if len(atoms) == 0:
            raise ValueError("the structure has no atoms")
        symbols = atoms.get_chemical_symbols()
        self.basis.check_symbols(symbols, where=f"{type(self).__name__} ({self.loaded.path})")
        self.n_electrons = self._electrons(symbols)
        found = overlap_pairs(atoms, self.basis.cutoffs(symbols))
        if self.distributed:
            prediction = predict_distributed(self.model, atoms, pairs=found, edge_chunk=self.edge_chunk,
                                             atom_chunk=self.atom_chunk or DEFAULT_ATOM_CHUNK, progress=True)
        else:
            prediction = predict(self.model, atoms, pairs=found, edge_chunk=self.edge_chunk,
                                 atom_chunk=self.atom_chunk, progress=True)
        domain = self.loaded.metadata.domain
        self.domain_report = None
        if self.check_domain and domain is not None:
            self.domain_report = domain.check(atoms, found, prediction.node_features)
            if self.domain_report:
                warnings.warn("structure outside the model's training domain (predictions are extrapolated): "
                              + "; ".join(self.domain_report.messages()), OutOfDomainWarning, stacklevel=4)
        overlap = self.tables.overlap_matrix(atoms, pairs=found)
        self._predicted = (atoms.copy(), [prediction.hamiltonian], overlap)
        return [prediction.hamiltonian], overlap

    def get_hamiltonian(self, atoms: Atoms | None = None) -> BlockMatrix:
        """Predicted H(R) (eV, Wikipedia orbital order) of ``atoms`` (default: the attached atoms); a
        bilayer's includes the self-consistent interlayer step when the model has a coupling
        (:attr:`layer_step`)."""
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
