"""Training configuration: one TOML file with every hyperparameter and path.

Example (every key optional except ``data.sources``)::

    [data]
    sources = ["../shared/data/graphene3x3"]   # folder trees of OpenMX runs or DeepH folders
    cache = "dataset.h5"                       # relative to the output folder
    split = [0.8, 0.1, 0.1]                    # train / validation / test, by structure
    seed = 0
    pao_dirs = ["../shared/data/openmx/PAO"]   # optional: exact overlap tables stored in model.pt

    [model]                                    # ase_deeph2.model.ELCTConfig fields
    lmax = 4
    channels = 32
    n_blocks = 3

    [training]
    epochs = 300
    batch_size = 4
    lr = 3e-3
    schedule = "cosine"                        # or "plateau"
    init_from = "graphene-openmx"              # fine-tune: start from a model file or shipped model
                                               # (same [model] and basis; n_blocks, channels, hidden may grow)
    [output]
    dir = "runs/graphene"

Relative paths in ``data.sources`` are relative to the TOML file; ``data.cache`` and the
checkpoints live in ``output.dir`` (itself relative to the TOML file).
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields, make_dataclass
from pathlib import Path
from typing import Any

from ase_deeph2.model.config import ELCTConfig

__all__ = ["DataConfig", "ModelSection", "TrainingConfig", "OutputConfig", "RunConfig", "load_config"]


@dataclass
class DataConfig:
    sources: list[str]
    cache: str = "dataset.h5"
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    basis: dict[str, str] | None = None  # default: the first structure's basis
    pao_dirs: list[str] = field(default_factory=list)  # PAO files: exact S(R) tables go into model.pt
    interlayer_step: bool = False  # bilayers: train on H without the interlayer step; the model restores it


#: The ``[model]`` section: the hyperparameters of ``ELCTConfig`` with its defaults (the basis and
#: the neighbour normaliser come from the data), derived from it so that the two never disagree.
ModelSection = make_dataclass("ModelSection", [(f.name, f.type, field(default=f.default)) for f in fields(ELCTConfig)
                                               if f.name not in ("basis", "avg_neighbors")])
ModelSection.__doc__ = "Hyperparameters passed to ``ELCTConfig`` (the basis comes from the data)."


@dataclass
class TrainingConfig:
    """Optimisation. ``lr`` in the units of the loss (eV^2 for MSE); times in minutes."""

    epochs: int = 300
    batch_size: int = 4
    lr: float = 3e-3
    min_lr: float = 1e-5
    weight_decay: float = 0.0
    warmup_epochs: float = 5.0
    schedule: str = "cosine"          # "cosine" (warm-up then cosine to min_lr) or "plateau"
    plateau_patience: int = 10
    plateau_factor: float = 0.5
    grad_clip: float = 1.0            # max gradient norm; 0 = off
    ema_decay: float = 0.0            # 0 = off; e.g. 0.999
    patience: int = 0                 # early stopping on validation MAE, in epochs; 0 = off
    loss: str = "mse"                 # "mse", "mae" or "mse+mae"
    onsite_weight: float = 1.0        # weight of the on-site blocks' entries in the loss (they set band positions)
    loss_average: str = "batch"       # "batch": each batch's mean over its entries (a small cell's entry weighs
                                      # more); "dataset": every training entry weighs the same (cells by size)
    random_roll: bool = True          # random roll of the edge frames (result must not depend on it)
    device: str = "auto"              # "auto" (CUDA if present), "cpu", "cuda", "cuda:1"
    dtype: str = "float32"
    seed: int = 0
    threads: int = 0                  # torch CPU threads per process; 0 = torch's default
    max_time_minutes: float = 0.0     # stop (with a checkpoint) after this much training; 0 = off
    eval_every: int = 1               # epochs between validations
    init_from: str = ""               # start from this model's weights (a model file or a shipped name): fine-tuning; a larger model.n_blocks or n_rbf, or channels / hidden / radial_hidden times a whole factor, grows it (model.grow)


@dataclass
class OutputConfig:
    dir: str = "run"
    checkpoint_every: int = 1         # epochs
    plots: bool = True


@dataclass
class RunConfig:
    data: DataConfig
    model: ModelSection = field(default_factory=ModelSection)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    base_dir: Path = Path(".")

    @property
    def out_dir(self) -> Path:
        return (self.base_dir / self.output.dir).resolve()

    @property
    def cache_path(self) -> Path:
        return self.out_dir / self.data.cache

    @property
    def pao_paths(self) -> list[Path]:
        return [(self.base_dir / s).resolve() for s in self.data.pao_dirs]

    @property
    def source_paths(self) -> list[Path]:
        return [(self.base_dir / s).resolve() for s in self.data.sources]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["base_dir"] = str(self.base_dir)
        return out


def _section(cls, raw: dict[str, Any], name: str, where: str):
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown} in [{name}]; known: {sorted(known)}")
    try:
        return cls(**raw)
    except TypeError as err:
        raise ValueError(f"{where}: [{name}] {err}") from None


def config_from_dict(raw: dict[str, Any], base_dir: Path = Path("."), where: str = "config") -> RunConfig:
    """Build and validate a RunConfig from a parsed TOML dict."""
    unknown = sorted(set(raw) - {"data", "model", "training", "output"})
    if unknown:
        raise ValueError(f"{where}: unknown section(s) {unknown}; expected data, model, training, output")
    if "data" not in raw or "sources" not in raw["data"]:
        raise ValueError(f"{where}: [data] sources = [...] is required (folders of OpenMX runs or DeepH folders)")
    cfg = RunConfig(data=_section(DataConfig, raw["data"], "data", where),
                    model=_section(ModelSection, raw.get("model", {}), "model", where),
                    training=_section(TrainingConfig, raw.get("training", {}), "training", where),
                    output=_section(OutputConfig, raw.get("output", {}), "output", where),
                    base_dir=base_dir)
    t = cfg.training
    checks = [
        (t.schedule in ("cosine", "plateau"), f"training.schedule must be 'cosine' or 'plateau', got {t.schedule!r}"),
        (t.loss in ("mse", "mae", "mse+mae"), f"training.loss must be 'mse', 'mae' or 'mse+mae', got {t.loss!r}"),
        (t.dtype in ("float32", "float64"), f"training.dtype must be 'float32' or 'float64', got {t.dtype!r}"),
        (t.batch_size >= 1 and t.epochs >= 1, "training.batch_size and training.epochs must be >= 1"),
        (t.lr > 0 and 0 <= t.ema_decay < 1, "training.lr must be > 0 and ema_decay in [0, 1)"),
        (t.onsite_weight > 0, f"training.onsite_weight must be > 0, got {t.onsite_weight}"),
        (t.loss_average in ("batch", "dataset"),
         f"training.loss_average must be 'batch' or 'dataset', got {t.loss_average!r}"),
        (isinstance(cfg.data.pao_dirs, list) and all(isinstance(d, str) for d in cfg.data.pao_dirs),
         "data.pao_dirs must be a list of folder names"),
        (len(cfg.data.split) == 3, "data.split must have three fractions (train, validation, test)"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(f"{where}: {message}")
    cfg.data.split = tuple(float(x) for x in cfg.data.split)
    return cfg


def load_config(path: str | Path) -> RunConfig:
    """Read a TOML training configuration; errors name the file and the offending key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"configuration file {path} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path}: not valid TOML ({err})") from None
    return config_from_dict(raw, base_dir=path.resolve().parent, where=str(path))
