"""How far one Hamiltonian's spectrum is from another's: a prediction against DFT.

The states compared are those that set the low-energy physics of the reference: within ``width`` eV
below its VBM and above its CBM (and all of the gap) when it is an insulator, else within ``width`` eV
of its Fermi level (:meth:`BandGap.states_near_edges`). Both spectra are solved on one k mesh, the
same state index against the same state index::

    data = read_scfout("openmx.scfout")
    calc = DeepH2Calculator("mos2-openmx")
    errors = spectrum_errors(data, calc.get_data(data.atoms))   # on the run's own scf.Kgrid
    print(errors.bands_max, errors.gap_error)                   # meV
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .electronic import BandGap
from .hamiltonian_calculator import HamiltonianCalculator
from .io.data import HamiltonianData
from .io.openmx_out import scf_mesh

__all__ = ["SpectrumErrors", "spectrum_errors", "same_k"]


def same_k(a: np.ndarray, b: np.ndarray) -> bool:
    """Fractional k points ``a`` and ``b`` (shape (3,)) are one point up to a reciprocal lattice vector
    and time reversal (K and K' = -K carry degenerate band edges; which one a solver reports is a rounding)."""
    return any(np.allclose(d, np.round(d), atol=1e-8) for d in (np.asarray(a) - b, np.asarray(a) + b))


@dataclass(frozen=True)
class SpectrumErrors:
    """Band errors (meV) of a predicted spectrum against a reference on one k mesh.

    Attributes:
        states: number of (k, band) states compared.
        bands_mae, bands_max: mean and max |E_pred - E_ref| over those states (meV).
        bands_aligned_max: the same max with each spectrum measured from its own reference level
            (VBM of an insulator, else E_F): what remains once a rigid shift of all bands is taken out.
        fermi_level_error: E_F,pred - E_F,ref (meV).
        gap_reference, gap_predicted: the two band gaps with their band-edge k points.
    """

    states: int
    bands_mae: float
    bands_max: float
    bands_aligned_max: float
    fermi_level_error: float
    gap_reference: BandGap
    gap_predicted: BandGap

    @property
    def gap_error(self) -> float:
        """Predicted minus reference band gap (meV)."""
        return (self.gap_predicted.gap - self.gap_reference.gap) * 1000

    @property
    def edges_at_same_k(self) -> bool:
        """Both the VBM and the CBM sit at the reference's k points (up to time reversal)."""
        p, r = self.gap_predicted, self.gap_reference
        return same_k(p.k_vbm, r.k_vbm) and same_k(p.k_cbm, r.k_cbm)

    def as_dict(self) -> dict[str, Any]:
        """Plain numbers for JSON (meV; the reference gap in eV)."""
        return {"bands_near_EF_mae": self.bands_mae, "bands_near_EF_max": self.bands_max, "states": self.states,
                "bands_aligned_max": self.bands_aligned_max, "fermi_level_error": self.fermi_level_error,
                "gap_dft_eV": self.gap_reference.gap, "gap_error": self.gap_error,
                "band_edges_at_same_k": self.edges_at_same_k}


def spectrum_errors(reference: HamiltonianData, predicted: HamiltonianData,
                    kpts: tuple[int, int, int] | None = None, width: float = 1.0) -> SpectrumErrors:
    """Errors of ``predicted``'s bands, E_F and gap against ``reference``'s (same structure and basis).

    Args:
        reference, predicted: H and S of one structure (eV); both need the number of electrons.
        kpts: Monkhorst-Pack mesh (not Γ-centred, as OpenMX's); default: the reference run's
            ``scf.Kgrid`` (:func:`~ase_deeph2.io.openmx_out.scf_mesh`).
        width: the window (eV) beyond the reference's gap edges (or around its E_F) whose states count.
    """
    if len(reference.atoms) != len(predicted.atoms) or reference.symbols != predicted.symbols:
        raise ValueError(f"{predicted.source or 'prediction'}: not the structure of {reference.source or 'the reference'} "
                         f"({predicted.atoms.get_chemical_formula()} vs {reference.atoms.get_chemical_formula()})")
    mesh = kpts if kpts is not None else scf_mesh(reference)
    if mesh is None:
        raise ValueError(f"{reference.source}: the run's k mesh is unknown (no scf.Kgrid); pass kpts=(n1, n2, n3)")
    ref, pred = (HamiltonianCalculator.from_data(d, kpts={"size": tuple(mesh), "gamma": False}, symmetry=False)
                 for d in (reference, predicted))
    for calc in (ref, pred):
        calc.atoms.calc = calc
    ef_ref, ef_pred = ref.get_fermi_level(), pred.get_fermi_level()
    e_ref, e_pred = ref.results["eigenvalues"], pred.results["eigenvalues"]
    gap_ref, gap_pred = ref.band_gap(), pred.band_gap()
    near = gap_ref.states_near_edges(e_ref, ef_ref, width=width)
    err = np.abs(e_pred - e_ref)[near] * 1000
    level_ref, level_pred = (gap_ref.vbm, gap_pred.vbm) if gap_ref.insulating() else (ef_ref, ef_pred)
    aligned = np.abs((e_pred - level_pred) - (e_ref - level_ref))[near] * 1000
    return SpectrumErrors(states=int(near.sum()), bands_mae=float(err.mean()), bands_max=float(err.max()),
                          bands_aligned_max=float(aligned.max()), fermi_level_error=float((ef_pred - ef_ref) * 1000),
                          gap_reference=gap_ref, gap_predicted=gap_pred)
