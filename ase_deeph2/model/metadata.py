"""What a model file says about its model besides the weights: named, typed fields.

The code that trains a model fills a :class:`ModelMetadata`; the code that uses one reads its
fields by name (no positional lists). Stored in the model file as plain data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .domain import TrainingDomain

__all__ = ["ModelMetadata", "FermiLevels", "LayerCoupling"]


@dataclass
class FermiLevels:
    """Fermi levels (eV) of the training structures: the sparse solver's first guess."""

    minimum: float
    mean: float
    maximum: float


@dataclass
class LayerCoupling:
    """The interlayer capacitor of a model trained on bilayers whose targets had their interlayer
    step removed (:mod:`ase_deeph2.electronic.interlayer`): the calculator restores the step
    self-consistently, V = coupling / area * Dq(V).

    Attributes:
        coupling: kappa, eV Å^2 per electron moved from the lower to the upper layer.
        correlation: of the training cells' DFT steps with Dq / area (how well a capacitor explains them).
        structures: bilayers it was fitted on.
        gap: vertical gap (Å) that separated the layers.
    """

    coupling: float
    correlation: float
    structures: int
    gap: float


@dataclass
class ModelMetadata:
    """Facts about a model's training that inference depends on, plus a free-form record.

    Attributes:
        valence_electrons: element -> electrons per neutral atom (the electron count of a structure).
        fermi_levels: Fermi levels of the training structures, when known.
        domain: training pair distances and atomic environments (the out-of-domain check).
        interlayer: the interlayer coupling, when the targets had their interlayer step removed.
        training: free-form record for people (split, errors, recipe, time); code never reads it.
    """

    valence_electrons: dict[str, float] = field(default_factory=dict)
    fermi_levels: FermiLevels | None = None
    domain: TrainingDomain | None = None
    interlayer: LayerCoupling | None = None
    training: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["domain"] = None if self.domain is None else self.domain.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelMetadata":
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"model metadata has unknown fields {sorted(unknown)}: written by a newer version?")
        fermi = data.get("fermi_levels")
        domain = data.get("domain")
        interlayer = data.get("interlayer")
        return cls(valence_electrons={k: float(v) for k, v in data.get("valence_electrons", {}).items()},
                   fermi_levels=None if fermi is None else FermiLevels(**fermi),
                   domain=None if domain is None else TrainingDomain.from_dict(domain),
                   interlayer=None if interlayer is None else LayerCoupling(**interlayer),
                   training=dict(data.get("training", {})))
