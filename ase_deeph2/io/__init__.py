"""Readers and writers: OpenMX ``.scfout``/``.out`` and the DeepH dataset formats."""

from .data import HamiltonianData
from .deeph import DeepHFormatError, read_deeph, write_deeph
from .openmx import ScfoutError, parse_openmx_input, read_scfout
from .openmx_out import ScfHistory, eigenvalue_deviation, read_openmx_eigenvalues, read_scf_history, scf_mesh
from .sources import SourceError, find_sources, read_source
from .structures import read_structures

__all__ = ["HamiltonianData", "DeepHFormatError", "read_deeph", "write_deeph", "ScfoutError", "read_scfout",
           "read_openmx_eigenvalues", "parse_openmx_input", "read_structures", "ScfHistory", "read_scf_history",
           "eigenvalue_deviation", "scf_mesh", "SourceError", "find_sources", "read_source"]
