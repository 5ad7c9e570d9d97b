"""The DeepH-2 model: an equivariant local-coordinate transformer (ELCT) predicting H(R) blocks.

``elct``/``block``/``layers``/``heads``/``frames``/``layout``: the network (a ``torch.nn.Module``);
``inputs``: graphs of structures; ``inference``: Atoms -> H(R) in bounded memory; ``domain``: what
the training set covered; ``metadata``/``io``: model files.
"""

from .config import ELCTConfig
from .domain import DomainReport, TrainingDomain
from .elct import ELCT
from .inference import Prediction, predict
from .inputs import GraphBatch, blocks_from_matrix, build_graph, collate, matrix_from_blocks
from .io import LoadedModel, ModelFileError, load_model, save_model
from .metadata import FermiLevels, LayerCoupling, ModelMetadata

__all__ = ["ELCTConfig", "ELCT", "GraphBatch", "build_graph", "collate", "blocks_from_matrix", "matrix_from_blocks",
           "save_model", "load_model", "LoadedModel", "ModelFileError", "Prediction", "predict",
           "TrainingDomain", "DomainReport", "ModelMetadata", "FermiLevels", "LayerCoupling"]
