"""Training targets without the interlayer step, and the capacitor coupling that restores it.

With ``data.interlayer_step = true`` every bilayer's DFT Hamiltonian loses its interlayer potential
step before it becomes a target (H - V M, :mod:`ase_deeph2.electronic.interlayer`): the step is set
by the charge the whole cell moves between its layers, which a local model cannot see. The cache
keeps each bilayer's step V, the charge Dq that DFT's own H and S move between the layers on the
run's k mesh, and the cell's area; from the training cells the coupling kappa of V = kappa Dq / A
is fitted and written into the model file, where the calculator uses it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from ase.units import kB

from ase_deeph2.electronic import Mesh, Smearing, mesh_of
from ase_deeph2.electronic.interlayer import (LAYER_GAP, LayerCharge, cell_area, fit_layer_coupling, layer_mesh_points,
                                              onsite_layer_step, two_layers)
from ase_deeph2.io import HamiltonianData, scf_mesh
from ase_deeph2.model.metadata import LayerCoupling

__all__ = ["LayerRecord", "remove_layer_step", "fit_coupling"]


@dataclass(frozen=True)
class LayerRecord:
    """A bilayer's interlayer step V (eV), the electrons Dq its DFT H and S move to the upper layer
    (per cell, Mulliken, on the run's k mesh and electronic temperature) and its area A (Å^2)."""

    step: float
    transfer: float
    area: float


def run_smearing(data: HamiltonianData) -> Smearing:
    """The Fermi-Dirac occupation of the run (OpenMX's ``scf.ElectronicTemperature``, K; default 300 K)."""
    kelvin = data.info.get("keywords", {}).get("scf.electronictemperature")
    try:
        return Smearing("fermi-dirac", float(kB * float(kelvin.split()[0] if kelvin else 300.0)))
    except ValueError:
        raise ValueError(f"{data.source}: scf.ElectronicTemperature {kelvin!r} is not a number of kelvin") from None


def remove_layer_step(data: HamiltonianData, gap: float = LAYER_GAP):
    """(H without its interlayer step, LayerRecord) of a bilayer; (H, None) of any other structure.

    Raises ValueError (naming the source) when a bilayer lacks what the charge needs: its overlap or
    electron count.
    """
    h = data.hamiltonian
    layer = two_layers(data.atoms, gap)
    if layer is None:
        return h, None
    if data.overlap is None or data.n_electrons is None:
        raise ValueError(f"{data.source}: a bilayer without its overlap or electron count; the interlayer step "
                         "cannot be removed (data.interlayer_step needs OpenMX runs or full DeepH folders)")
    size = scf_mesh(data)
    mesh = mesh_of(data.atoms, None) if size is None else Mesh(size, False)
    kpts, weights = layer_mesh_points(data.atoms, mesh, layer)
    charge = LayerCharge(h, data.overlap, layer, data.n_electrons, kpts, weights, run_smearing(data))
    transfer, _ = charge.transfer(0.0)
    step = onsite_layer_step(h, layer)
    return h.with_data(h.data - step * charge.operator.data), LayerRecord(step, transfer, cell_area(data.atoms))


def fit_coupling(steps: np.ndarray, transfers: np.ndarray, areas: np.ndarray, gap: float = LAYER_GAP) -> LayerCoupling | None:
    """The coupling of the bilayers among the given cells (NaN entries are other structures), or
    None when there are fewer than two bilayers that move charge. When their steps do not rise with
    the charge they move (kappa <= 0: not a capacitor), it warns and the coupling is 0 (no step)."""
    known = np.isfinite(steps) & np.isfinite(transfers) & np.isfinite(areas)
    moved = known & (np.abs(np.nan_to_num(transfers)) > 1e-6)
    if moved.sum() < 2:
        return None
    kappa, correlation = fit_layer_coupling(steps[known], transfers[known], areas[known])
    if kappa <= 0:
        warnings.warn(f"the training bilayers' interlayer steps fall as the charge they move to the upper layer rises "
                      f"(kappa {kappa:.3g} eV Å^2/e, correlation {correlation:.2f}): not a capacitor; the model gets "
                      "coupling 0 and will predict no interlayer step", stacklevel=2)
        kappa = 0.0
    return LayerCoupling(coupling=kappa, correlation=correlation, structures=int(known.sum()), gap=gap)
