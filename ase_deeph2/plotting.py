"""Band-structure and DOS plots (matplotlib; works headless), and the one figure writer.

``plot_bands`` overlays several band structures on one axis, each referred to its own Fermi
level: DFT against predicted, pristine against perturbed. Figures written to a file are made
without pyplot (no global state, no display needed); without a file name the axes come from
pyplot, so that they show in notebooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from .files import atomic_path

__all__ = ["plot_bands", "plot_dos", "new_axes", "save_figure"]

_STYLES = [dict(color="k", lw=1.4), dict(color="tab:red", lw=1.0, ls="--"), dict(color="tab:blue", lw=1.0, ls=":"),
           dict(color="tab:green", lw=1.0, ls="-.")]


def plot_bands(structures: Sequence, labels: Sequence[str] | None = None, emin: float = -4.0, emax: float = 4.0,
               ax=None, filename: str | Path | None = None, title: str | None = None):
    """Overlay band structures (ASE ``BandStructure`` objects) relative to their Fermi levels.

    Args:
        structures: band structures on the same path (the first one's path labels the axis).
        labels: legend entries, one per structure.
        emin, emax: energy window relative to E_F (eV).
        filename: save the figure there (PNG/PDF by extension) and close it.

    Returns:
        The matplotlib axis.
    """
    labels = list(labels) if labels is not None else [None] * len(structures)
    ax = ax if ax is not None else new_axes((6, 4.5), filename is None)
    x, special_x, special_names = structures[0].path.get_linear_kpoint_axis()
    for bs, label, style in zip(structures, labels, _STYLES * len(structures)):
        xs, _, _ = bs.path.get_linear_kpoint_axis()
        energies = bs.energies - bs.reference
        for spin in range(energies.shape[0]):
            for n in range(energies.shape[2]):
                ax.plot(xs, energies[spin, :, n], label=label if (spin == 0 and n == 0) else None, **style)
    for sx in special_x:
        ax.axvline(sx, color="0.6", lw=0.6)
    ax.axhline(0.0, color="0.4", lw=0.6, ls=":")
    ax.set_xticks(special_x, [r"$\Gamma$" if n == "G" else n for n in special_names])
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(emin, emax)
    ax.set_ylabel(r"$E - E_F$ (eV)")
    if title:
        ax.set_title(title)
    if any(labels):
        ax.legend(loc="upper right", fontsize=8)
    if filename is not None:
        save_figure(ax.figure, filename)
    return ax


def plot_dos(energies: np.ndarray, dos: dict[str, np.ndarray], fermi_level: float = 0.0, ax=None,
             filename: str | Path | None = None, emin: float | None = None, emax: float | None = None,
             title: str | None = None):
    """Plot a DOS dictionary ({"total": ..., "C-p": ...}) against E - E_F (eV)."""
    ax = ax if ax is not None else new_axes((6, 3.8), filename is None)
    e = np.asarray(energies) - fermi_level
    for name, values in dos.items():
        ax.plot(e, values, label=name, lw=1.6 if name == "total" else 1.0, color="k" if name == "total" else None)
    ax.axvline(0.0, color="0.4", lw=0.6, ls=":")
    ax.set_xlim(emin if emin is not None else e[0], emax if emax is not None else e[-1])
    ax.set_xlabel(r"$E - E_F$ (eV)")
    ax.set_ylabel("DOS (states/eV/cell)")
    if title:
        ax.set_title(title)
    if len(dos) > 1:
        ax.legend(fontsize=8)
    if filename is not None:
        save_figure(ax.figure, filename)
    return ax


def new_axes(figsize: tuple[float, float], interactive: bool = False, ncols: int = 1):
    """Axes on a new figure: from pyplot when ``interactive`` (notebooks), else a plain Figure."""
    if interactive:
        import matplotlib.pyplot as plt
        return plt.subplots(1, ncols, figsize=figsize)[1]
    axes = Figure(figsize=figsize).subplots(1, ncols)
    return axes


def save_figure(fig, filename: str | Path, dpi: int = 150) -> Path:
    """Write ``fig`` atomically (format from the suffix) and release it; returns the path."""
    filename = Path(filename)
    try:
        with atomic_path(filename, suffix=filename.suffix) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    finally:
        if fig.canvas.manager is not None:  # a pyplot figure: forget it
            import matplotlib.pyplot as plt
            plt.close(fig)
    return filename
