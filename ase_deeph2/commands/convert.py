"""``deeph2 convert SRC DST``: OpenMX runs (or DeepH folders) -> DeepH folders, mirroring the tree."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm.auto import tqdm

NAME = "convert"
HELP = "convert OpenMX .scfout runs (or DeepH folders) into DeepH-format folders"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", type=Path, help="a .scfout file, a run folder, or a folder tree of runs")
    parser.add_argument("dst", type=Path, help="output folder (the source tree is mirrored inside it)")
    parser.add_argument("--legacy", action="store_true", help="write the legacy DeepH-pack format")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output folders")


def sources(src: Path) -> list[tuple[Path, Path]]:
    """(source, relative output folder) for every structure under ``src``."""
    from ..io import find_sources

    if src.is_file():
        return [(src, Path(src.parent.name or src.stem))]
    out = []
    for folder in find_sources(src):
        rel = folder.relative_to(src)
        out.append((folder, rel if str(rel) != "." else Path(src.name)))
    return out


def run(args: argparse.Namespace) -> int:
    from ..io import read_source, write_deeph

    items = sources(args.src)
    if not items:
        raise FileNotFoundError(f"no .scfout files or DeepH folders under {args.src}")
    failed = []
    done = skipped = 0
    for item, rel in tqdm(items, desc="converting", unit="structure"):
        target = args.dst / rel
        if target.exists() and not args.overwrite:
            skipped += 1
            continue
        try:
            data = read_source(item)
            write_deeph(target, data, legacy=args.legacy)
            done += 1
        except (ValueError, OSError) as err:
            failed.append((item, err))
    for item, err in failed:
        print(f"failed: {item}: {err}", file=sys.stderr)
    print(f"converted {done}, skipped {skipped} existing (use --overwrite), failed {len(failed)}; output in {args.dst}")
    return 1 if failed else 0
