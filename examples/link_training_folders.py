"""Make each shipped model's training folder under the data folder (training_folders.toml).

    python examples/link_training_folders.py [OUT]      # OUT: default $DEEPH2_DATA or ~/deeph2-data

A training folder holds one symlink per cell of its corpora, except the runs that
benchmarks/held_out.toml holds out for the model; it is remade from scratch each time (it holds
symlinks only), so a cell held out since the last time is not left in it. A corpus that is not
(yet) there is skipped with a line saying so; make_training_data.sh runs this at its end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))
from held_out import HELD_OUT, SHARED, resolve  # noqa: E402 (benchmarks/ is not a package)


def corpus_cells(corpus: str, data: Path) -> list[Path]:
    """The cell folders of a corpus: ``@NAME`` -> DATA/NAME/deeph/s*, otherwise SHARED/NAME/NAME_s*."""
    if corpus.startswith("@"):
        return sorted((data / corpus[1:] / "deeph").glob("s[0-9]*"))
    return sorted((SHARED / corpus).glob(f"{corpus}_s[0-9]*"))


def held_out_folders(model: str, data: Path) -> set[Path]:
    """The folders of the runs held out for ``model`` under ``data`` (resolved)."""
    return {resolve(item, data).resolve() for items in HELD_OUT[model].values() for item in items if item.startswith("@")}


def link_training_folder(name: str, spec: dict, data: Path) -> int:
    """Remake ``data/name`` per ``spec`` (``model``, ``corpora`` = {link prefix: corpus}); returns the links made."""
    folder = data / name
    if folder.exists():
        strays = [p.name for p in folder.iterdir() if not p.is_symlink()]
        if strays:
            raise SystemExit(f"{folder}: holds {strays[0]!r}, not a symlink; a training folder holds links only")
        for p in folder.iterdir():
            p.unlink()
    held = held_out_folders(spec["model"], data)
    made = 0
    for prefix, corpus in spec["corpora"].items():
        cells = corpus_cells(corpus, data)
        if not cells:
            print(f"{name}: no cells of {corpus} here (examples/make_training_data.sh makes them); skipped")
        kept = [c for c in cells if c.resolve() not in held]
        if kept:
            folder.mkdir(parents=True, exist_ok=True)
        for cell in kept:
            os.symlink(cell, folder / f"{prefix}{cell.name}", target_is_directory=True)
        made += len(kept)
        if cells:
            print(f"{name}: {len(kept)} of {len(cells)} cells of {corpus} ({len(cells) - len(kept)} held out)")
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path,
                        default=Path(os.environ.get("DEEPH2_DATA", Path.home() / "deeph2-data")))
    args = parser.parse_args()
    with open(HERE / "training_folders.toml", "rb") as f:
        folders = tomllib.load(f)
    for name, spec in folders.items():
        if spec["model"] not in HELD_OUT:
            raise SystemExit(f"training_folders.toml: [{name}] model {spec['model']!r} has no entry in benchmarks/held_out.toml")
        print(f"{name}: {link_training_folder(name, spec, args.out.resolve())} links")


if __name__ == "__main__":
    main()
