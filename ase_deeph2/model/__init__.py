"""The DeepH-2 model: an equivariant local-coordinate transformer (ELCT) predicting H(R) blocks."""

from .config import ELCTConfig
from .elct import ELCT
from .inputs import GraphBatch, blocks_from_matrix, build_graph, collate, matrix_from_blocks
from .io import LoadedModel, ModelFileError, load_model, save_model

__all__ = ["ELCTConfig", "ELCT", "GraphBatch", "build_graph", "collate", "blocks_from_matrix", "matrix_from_blocks",
           "save_model", "load_model", "LoadedModel", "ModelFileError"]
