"""Electronic structure from H(R), S(R): k points, eigensolvers (dense / sparse shift-invert),
Fermi level, band gap, DOS and Mulliken PDOS, and the k-driver that puts them together.

Physics on matrices only: nothing here knows about models or ASE calculators.
"""

from .driver import ElectronicStructure, MeshSpectrum, SolverPolicy, Spectrum
from .kpoints import Mesh, is_path, mesh_of, path_kpoints
from .occupations import BandGap, Smearing, band_energy, band_gap, find_fermi_level
from .solvers import KSolution, SingularOverlapWarning, count_states_below, smallest_overlap_eigenvalue, solve_k

__all__ = ["ElectronicStructure", "MeshSpectrum", "SolverPolicy", "Spectrum", "Mesh", "is_path", "mesh_of",
           "path_kpoints", "BandGap", "Smearing", "band_energy", "band_gap", "find_fermi_level", "KSolution",
           "SingularOverlapWarning", "count_states_below", "smallest_overlap_eigenvalue", "solve_k"]
