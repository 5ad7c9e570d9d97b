"""PNG plots of training: learning curves and orbital-wise MAE heat maps (matplotlib figures, no pyplot)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from ase_deeph2.plotting import save_figure

from .metrics import ErrorAccumulator

__all__ = ["plot_learning_curves", "plot_orbital_mae"]


def plot_learning_curves(history: Sequence[dict], path: Path) -> Path:
    """Training loss and train/validation MAE (meV, log scale) against epoch and wall time."""
    epochs = [h["epoch"] for h in history]
    minutes = [h["time_s"] / 60 for h in history]
    fig = Figure(figsize=(10, 3.8))
    axes = fig.subplots(1, 2)
    for ax, x, label in ((axes[0], epochs, "epoch"), (axes[1], minutes, "wall time (min)")):
        ax.semilogy(x, [h["train_mae_meV"] for h in history], label="train MAE")
        val = [(xi, h["val_mae_meV"]) for xi, h in zip(x, history) if h.get("val_mae_meV") is not None]
        if val:
            ax.semilogy(*zip(*val), label="validation MAE")
        ax.set_xlabel(label)
        ax.set_ylabel("MAE of H (meV)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("ELCT training")
    return save_figure(fig, path, dpi=130)


def plot_orbital_mae(acc: ErrorAccumulator, path: Path, title: str = "orbital-wise MAE") -> Path:
    """One heat map per species pair: MAE (meV) of every orbital entry (rows: orbitals of the first atom)."""
    pairs = [(a, b) for a in range(len(acc.elements)) for b in range(len(acc.elements))
             if float(acc.count[:, a, b].sum()) > 0]
    fig = Figure(figsize=(4.6 * len(pairs), 4.2))
    axes = fig.subplots(1, len(pairs), squeeze=False)
    for ax, (a, b) in zip(axes[0], pairs):
        mae = acc.orbital_mae(a, b)
        ea, eb = acc.elements[a], acc.elements[b]
        im = ax.imshow(mae, cmap="viridis", norm=LogNorm(vmin=max(mae.min(), 1e-4), vmax=mae.max()))
        la, lb = acc.basis[ea].orbital_labels(), acc.basis[eb].orbital_labels()
        ax.set_xticks(range(len(lb)), lb, rotation=90, fontsize=6)
        ax.set_yticks(range(len(la)), la, fontsize=6)
        ax.set_title(f"{ea}-{eb}: mean {mae.mean():.3g} meV", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046, label="MAE (meV)")
    fig.suptitle(title)
    return save_figure(fig, path, dpi=130)
