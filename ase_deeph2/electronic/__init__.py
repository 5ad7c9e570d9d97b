"""Electronic structure from H(R), S(R): k meshes, eigensolvers (dense / sparse shift-invert),
Fermi level, band gap, DOS and Mulliken PDOS."""

from .kmesh import irreducible_kpoints, mesh_from_density, monkhorst_pack
from .occupations import BandGap, Smearing, band_energy, band_gap, find_fermi_level, gaussian_dos
from .solvers import KSolution, SingularOverlapWarning, count_states_below, smallest_overlap_eigenvalue, solve_k

__all__ = ["irreducible_kpoints", "mesh_from_density", "monkhorst_pack", "BandGap", "Smearing", "band_energy",
           "band_gap", "find_fermi_level", "gaussian_dos", "KSolution", "SingularOverlapWarning",
           "count_states_below", "smallest_overlap_eigenvalue", "solve_k"]
