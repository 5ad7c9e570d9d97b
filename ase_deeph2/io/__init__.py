"""Readers and writers: OpenMX ``.scfout``/``.out`` and the DeepH dataset formats."""

from .data import HamiltonianData
from .openmx import ScfoutError, parse_openmx_input, read_openmx_eigenvalues, read_scfout

__all__ = ["HamiltonianData", "ScfoutError", "read_scfout", "read_openmx_eigenvalues", "parse_openmx_input"]
