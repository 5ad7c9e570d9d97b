"""The training loop: AdamW, warm-up + cosine (or plateau) schedule, clipping, EMA, early stopping,
atomic best/last checkpoints with exact resume, tqdm progress, CSV log, plots; one process or DDP."""

from __future__ import annotations

import csv
import io
import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from ase_deeph2.basis import BasisSet
from ase_deeph2.files import atomic_write_text
from ase_deeph2.graph import overlap_pairs
from ase_deeph2.model import ELCT, ELCTConfig, LayerCoupling, ModelMetadata, TrainingDomain, load_model, predict, save_model
from ase_deeph2.model.grow import grow
from ase_deeph2.overlap import OverlapTables

from .config import RunConfig
from .dataset import CachedStructures, build_cache, load_or_make_split
from .interlayer import fit_coupling
from ase_deeph2.parallel import init_distributed
from .checkpoints import load_checkpoint, needs_growth, plain, save_checkpoint
from .metrics import ErrorAccumulator, masked_loss
from .plots import plot_learning_curves, plot_orbital_mae
from .samples import Samples

__all__ = ["Trainer"]


class Trainer:
    """Fits an ELCT model as a :class:`RunConfig` says. ``Trainer(cfg).train()`` returns the final metrics.

    Output folder: ``dataset.h5`` (+ ``.split.json``), ``checkpoint_last.pt``, ``checkpoint_best.pt``,
    ``model.pt`` (best weights, a model file), ``log.csv``, ``learning_curves.png``,
    ``orbital_mae.png``, ``metrics.json``.
    """

    def __init__(self, cfg: RunConfig, resume: bool = True, progress: bool = True):
        self.cfg, t = cfg, cfg.training
        self.dist = init_distributed(t.device)
        if t.threads:
            torch.set_num_threads(t.threads)
        self.dtype = {"float32": torch.float32, "float64": torch.float64}[t.dtype]
        self.out = cfg.out_dir
        self.progress = progress and self.dist.is_main
        self.log_epochs = True  # one line per epoch on the main process
        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            info = build_cache(cfg.source_paths, cfg.cache_path, overwrite=False, progress=self.progress,
                               interlayer_step=cfg.data.interlayer_step,
                               basis=None if cfg.data.basis is None else BasisSet.from_strings(cfg.data.basis))
            for path, reason in info["skipped"]:
                print(f"skipped {path}: {reason}")
        self.dist.barrier()
        self.structures = CachedStructures(cfg.cache_path)
        if self.dist.is_main:
            load_or_make_split(self.structures, cfg.data.split, cfg.data.seed)
        self.dist.barrier()
        self.split = load_or_make_split(self.structures, cfg.data.split, cfg.data.seed)
        self.model_config = ELCTConfig(basis=self.structures.basis.to_strings(), **asdict(cfg.model))
        torch.manual_seed(t.seed)  # identical initial weights on every rank
        self.samples = Samples(self.structures, self.model_config, self.dtype)
        self._mean_train_entries: float | None = None
        self.extras = self._overlap_extras()
        self.model = ELCT(self.model_config).to(self.dist.device, self.dtype)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
        self.steps_per_epoch = math.ceil(len(self.split.train) / t.batch_size)
        if t.schedule == "cosine":
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._cosine)
        else:
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.optimizer, factor=t.plateau_factor, patience=t.plateau_patience, min_lr=t.min_lr)
        self.ema = (AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(t.ema_decay))
                    if t.ema_decay > 0 else None)
        self.state = {"epoch": 0, "batch_in_epoch": 0, "step": 0, "best_val": math.inf, "best_epoch": -1,
                      "bad_epochs": 0, "history": [], "elapsed_s": 0.0, "finished": False}
        checkpoint = self.out / "checkpoint_last.pt"
        if resume and checkpoint.exists():
            self._load_checkpoint(checkpoint)
        else:
            if t.init_from:
                self._initialise_from(t.init_from)
            else:
                self.model.fit_output_statistics(self.samples[i] for i in self.split.train)
                self.model.to(self.dist.device, self.dtype)
            if self.ema is not None:  # the average starts from the weights training starts from
                self.ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(t.ema_decay))
        self.net = (DistributedDataParallel(self.model, device_ids=[self.dist.device] if self.dist.device.type == "cuda"
                                            else None) if self.dist.enabled else self.model)

    # ------------------------------------------------------------------ schedule
    def _cosine(self, step: int) -> float:
        t = self.cfg.training
        warmup = max(1.0, t.warmup_epochs * self.steps_per_epoch)
        total = max(warmup + 1, t.epochs * self.steps_per_epoch)
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / (total - warmup))
        floor = t.min_lr / t.lr
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """The global batches of an epoch: a permutation fixed by (seed, epoch), so resume replays it."""
        order = np.random.default_rng([self.cfg.training.seed, epoch]).permutation(self.split.train)
        b = self.cfg.training.batch_size
        return [order[k:k + b] for k in range(0, len(order), b)]

    # ------------------------------------------------------------------ one step
    def _train_step(self, batch: np.ndarray) -> tuple[float, float, float]:
        """Returns (loss, sum |error| in eV, entries) of this process's share of the batch."""
        t = self.cfg.training
        local = batch[self.dist.rank::self.dist.world]
        self.optimizer.zero_grad(set_to_none=True)
        if len(local):
            graph, target = self.samples.batch(local, self.dist.device)
            mask = graph.block_mask
            count = torch.tensor(float(mask.sum()), dtype=torch.float64)
        else:
            graph = target = mask = None
            count = torch.zeros((), dtype=torch.float64)
        normaliser = self._loss_normaliser(count)
        if graph is not None:
            pred = self.net(graph, gamma="random" if t.random_roll else None)
            weight = None if t.onsite_weight == 1.0 else 1.0 + (t.onsite_weight - 1.0) * graph.onsite.to(pred.dtype)
            loss = masked_loss(pred, target, mask, t.loss, normaliser, weight)
            abs_err = float((pred.detach() - target)[mask].abs().sum())
        else:
            loss, abs_err = torch.zeros((), device=self.dist.device, dtype=self.dtype), 0.0
        if self.dist.enabled:  # every parameter takes part on every rank (DDP needs complete gradients)
            loss = loss + 0.0 * sum(p.sum() for p in self.model.parameters())
        loss.backward()
        if t.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), t.grad_clip)
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        if t.schedule == "cosine":
            self.scheduler.step()
        return float(loss.detach()), abs_err, float(count)

    def _loss_normaliser(self, count: torch.Tensor) -> float:
        """What this process divides its summed loss by: the global batch's entry count ("batch"), or
        the training set's mean entries per structure times the batch size ("dataset": the same for
        every batch, so each entry weighs the same whatever the size of its cell); divided by the
        world size because DDP averages gradients over ranks."""
        if self.cfg.training.loss_average == "dataset":
            return self.mean_train_entries * self.cfg.training.batch_size / self.dist.world
        total = count.clone()
        self.dist.all_reduce(total)
        return float(total) / self.dist.world

    @property
    def mean_train_entries(self) -> float:
        """Mean number of target entries (real block elements) per training structure."""
        if self._mean_train_entries is None:
            self._mean_train_entries = float(np.mean([float(self.samples[int(i)][0].block_mask.sum())
                                                      for i in self.split.train]))
        return self._mean_train_entries

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def evaluate(self, indices, model: ELCT | None = None) -> ErrorAccumulator:
        """Errors of ``model`` (default: the EMA model if any, else the model) on structures ``indices``."""
        model = model or self.eval_model
        model.eval()
        acc = ErrorAccumulator(self.structures.basis)
        mine = list(indices)[self.dist.rank::self.dist.world]
        b = self.cfg.training.batch_size
        for k in range(0, len(mine), b):
            graph, target = self.samples.batch(mine[k:k + b], self.dist.device)
            acc.add(graph, model(graph), target)
        acc.reduce(self.dist.all_reduce)
        model.train()
        return acc

    @property
    def eval_model(self) -> ELCT:
        return self.ema.module if self.ema is not None else self.model

    # ------------------------------------------------------------------ the loop
    def train(self) -> dict:
        t, s = self.cfg.training, self.state
        start_time = time.perf_counter() - s["elapsed_s"]
        stop_reason = None
        for epoch in range(s["epoch"], t.epochs):
            batches = self.epoch_batches(epoch)
            bar = tqdm(total=len(batches), initial=s["batch_in_epoch"], desc=f"epoch {epoch + 1}/{t.epochs}",
                       unit="batch", disable=not self.progress, leave=False)
            sums = np.zeros(3)
            for b in range(s["batch_in_epoch"], len(batches)):
                loss, abs_err, count = self._train_step(batches[b])
                sums += (loss, abs_err, count)
                s["step"] += 1
                s["batch_in_epoch"] = b + 1
                bar.update()
                bar.set_postfix(loss=f"{loss:.3e}", mae_meV=f"{1000 * abs_err / max(count, 1):.2f}",
                                lr=f"{self.optimizer.param_groups[0]['lr']:.1e}")
                s["elapsed_s"] = time.perf_counter() - start_time
                if t.max_time_minutes and s["elapsed_s"] > 60 * t.max_time_minutes:
                    stop_reason = f"time limit of {t.max_time_minutes} min reached"
                    break
            bar.close()
            totals = torch.tensor(sums[1:], dtype=torch.float64)
            self.dist.all_reduce(totals)
            if stop_reason and s["batch_in_epoch"] < len(batches):
                self._save_checkpoint(self.out / "checkpoint_last.pt")
                break
            s["epoch"], s["batch_in_epoch"] = epoch + 1, 0
            self._end_of_epoch(epoch, float(totals[0] / max(float(totals[1]), 1.0)))
            if self.state["bad_epochs"] and t.patience and self.state["bad_epochs"] >= t.patience:
                stop_reason = f"no validation improvement for {t.patience} epochs"
            if stop_reason:
                break
        s["finished"] = stop_reason is None or "validation" in stop_reason
        self._save_checkpoint(self.out / "checkpoint_last.pt")
        return self.finish(stop_reason)

    def _end_of_epoch(self, epoch: int, train_mae_ev: float) -> None:
        t, s = self.cfg.training, self.state
        row = {"epoch": epoch + 1, "step": s["step"], "time_s": s["elapsed_s"],
               "lr": self.optimizer.param_groups[0]["lr"], "train_mae_meV": 1000 * train_mae_ev, "val_mae_meV": None}
        if self.split.validation and (epoch + 1) % t.eval_every == 0:
            row["val_mae_meV"] = self.evaluate(self.split.validation).summary()["mae_meV"]
            if t.schedule == "plateau":
                self.scheduler.step(row["val_mae_meV"])
            if row["val_mae_meV"] < s["best_val"]:
                s["best_val"], s["best_epoch"], s["bad_epochs"] = row["val_mae_meV"], epoch + 1, 0
                if self.dist.is_main:
                    self._save_model(self.out / "model.pt")
                    self._save_checkpoint(self.out / "checkpoint_best.pt")
            else:
                s["bad_epochs"] += 1
        s["history"].append(row)
        if self.dist.is_main:
            if self.log_epochs:
                val = f"{row['val_mae_meV']:.3f}" if row["val_mae_meV"] is not None else "-"
                tqdm.write(f"epoch {epoch + 1}: train MAE {row['train_mae_meV']:.3f} meV, validation MAE {val} meV, "
                           f"lr {row['lr']:.2e}, {s['elapsed_s'] / 60:.1f} min")
            if (epoch + 1) % self.cfg.output.checkpoint_every == 0:
                self._save_checkpoint(self.out / "checkpoint_last.pt")
            self._write_log()

    # ------------------------------------------------------------------ outputs
    def _write_log(self) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(self.state["history"][0]))
        writer.writeheader()
        writer.writerows(self.state["history"])
        atomic_write_text(self.out / "log.csv", buf.getvalue())
        if self.cfg.output.plots:
            plot_learning_curves(self.state["history"], self.out / "learning_curves.png")

    def model_metadata(self, domain: TrainingDomain | None = None, **record) -> ModelMetadata:
        """The model file's metadata: electrons and Fermi levels of the training set, its domain, and a
        record of the split, the recipe and the errors (extra ``record`` items are added to it)."""
        fermi, valence = self.structures.electron_statistics(self.split.train)
        return ModelMetadata(
            valence_electrons=valence, fermi_levels=fermi, domain=domain, interlayer=self.layer_coupling(),
            training={"trained_on": [self.split.names[i] for i in self.split.train],
                      "validation_on": [self.split.names[i] for i in self.split.validation],
                      "test_on": [self.split.names[i] for i in self.split.test],
                      "best_epoch": self.state["best_epoch"], "validation_mae_meV": self.state["best_val"],
                      "recipe": plain(asdict(self.cfg.training)), "model": self.model_config.to_dict(),
                      "elapsed_s": self.state["elapsed_s"], **record})

    def layer_coupling(self) -> LayerCoupling | None:
        """The interlayer capacitor fitted on the training bilayers, when their steps were removed."""
        if not self.structures.interlayer_step_removed:
            return None
        train = np.asarray(self.split.train)
        layers = self.structures.layers
        return fit_coupling(layers["layer_step"][train], layers["layer_transfer"][train], layers["layer_area"][train])

    def training_domain(self, model: ELCT) -> TrainingDomain:
        """Pair distances and node features of the training structures under ``model``."""
        items = []
        for i in self.split.train:
            record = self.structures[int(i)]
            found = overlap_pairs(record.atoms, self.structures.basis.cutoffs(record.atoms.get_chemical_symbols()))
            items.append((record.atoms, found, predict(model, record.atoms, pairs=found).node_features))
        return TrainingDomain.from_structures(items)

    def _overlap_extras(self) -> dict:
        """Exact overlap tables from the PAO files of ``data.pao_dirs``, stored in ``model.pt`` so that
        the calculator builds S(R) without OpenMX's data; empty when no PAO folder is given."""
        if not self.cfg.data.pao_dirs:
            return {}
        try:
            tables = OverlapTables.from_pao(self.structures.basis, self.cfg.pao_paths)
        except (FileNotFoundError, ValueError) as err:
            raise ValueError(f"data.pao_dirs: cannot build the overlap tables: {err}") from err
        return {"overlap": tables.to_state()}

    def _save_model(self, path: Path) -> None:
        save_model(path, self.eval_model, metadata=self.model_metadata(), extras=self.extras)

    def finish(self, stop_reason: str | None) -> dict:
        """Test-set errors of the best model, metrics.json and the orbital-wise plot."""
        best = self.out / "model.pt"
        if not best.exists() and self.dist.is_main:  # no validation set: the final weights are the best we have
            self._save_model(best)
        self.dist.barrier()
        model = load_model(best, device=self.dist.device, dtype=self.dtype).model
        test = self.split.test or self.split.validation
        acc = self.evaluate(test, model)
        part = ("test" if self.split.test else "validation") + "_set"
        if self.dist.is_main:  # the best weights again, now with their training domain and held-out errors
            save_model(best, model, extras=self.extras,
                       metadata=self.model_metadata(self.training_domain(model), **{part: acc.summary()}))
        metrics = {"stop_reason": stop_reason or "all epochs done", "epochs": self.state["epoch"],
                   "elapsed_s": self.state["elapsed_s"], "best_epoch": self.state["best_epoch"],
                   "validation_mae_meV": self.state["best_val"],
                   part: acc.summary(),
                   "shell_mae_meV": {f"{acc.elements[a]}-{acc.elements[b]}": {f"{l1}{l2}": v for (l1, l2), v
                                                                              in acc.shell_mae(a, b).items()}
                                     for a in range(len(acc.elements)) for b in range(len(acc.elements))
                                     if float(acc.count[:, a, b].sum())}}
        if self.dist.is_main:
            atomic_write_text(self.out / "metrics.json", json.dumps(metrics, indent=1))
            if self.cfg.output.plots:
                plot_orbital_mae(acc, self.out / "orbital_mae.png", title="orbital-wise MAE on held-out structures")
        self.dist.close()
        return metrics

    # ------------------------------------------------------------------ checkpoints
    def _save_checkpoint(self, path: Path) -> None:
        if self.dist.is_main:
            save_checkpoint(path, self)

    def _initialise_from(self, source: str) -> None:
        """Weights (and output statistics) of another model with the same architecture and basis."""
        from ase_deeph2.calculator import resolve_model

        path = Path(source)
        if not path.is_absolute() and (self.cfg.base_dir / path).exists():
            path = self.cfg.base_dir / path
        loaded = resolve_model(path if path.exists() else source, device="cpu", dtype=self.dtype)
        # fitted fields (avg_neighbors) are taken over
        if needs_growth(self.model_config.to_dict(), loaded.config.to_dict(), source):
            # the same function in a deeper or wider network (model.grow)
            grow(loaded.model, self.model, seed=self.cfg.training.seed)
        else:
            self.model.load_state_dict(loaded.model.state_dict())
        self.model.config.avg_neighbors = loaded.config.avg_neighbors
        self.model.to(self.dist.device, self.dtype)

    def _load_checkpoint(self, path: Path) -> None:
        load_checkpoint(path, self)
