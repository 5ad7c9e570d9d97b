"""``deeph2 dft STRUCTURE -o OUT``: checked training data from a structure file with OpenMX.

STRUCTURE is any file ASE reads. One structure gives ``--count`` copies of it, repeated by
``--supercell`` and perturbed (``--sigma`` Å Gaussian displacements, ``--strain`` random strain);
a trajectory gives its frames (``--every``), perturbed only when ``--sigma``/``--strain`` are given.
Writes ``OUT/runs/sNNNN/`` (OpenMX), ``OUT/deeph/sNNNN/`` (checked DeepH folders) and
``OUT/summary.json``; running it again resumes. Defaults are those of the shared data: GGA-PBE,
200 Ry, SCF criterion 1e-8, 300 K, forces skipped, k density 3 per Å^-1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "dft"
HELP = "make checked training data: OpenMX runs of perturbed copies or trajectory frames -> DeepH folders"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("structure", type=Path, help="any structure or trajectory file ASE reads")
    parser.add_argument("-o", "--output", type=Path, required=True, help="corpus folder (runs/, deeph/, summary.json)")
    parser.add_argument("--supercell", type=int, nargs=3, default=(1, 1, 1), metavar=("A", "B", "C"))
    parser.add_argument("--count", type=int, default=None, help="perturbed copies of a single structure (default 1), "
                        "or the first N frames of a trajectory (default all)")
    parser.add_argument("--every", type=int, default=1, help="every N-th frame of a trajectory")
    parser.add_argument("--only", default=None, metavar="INDICES",
                        help="run only these structures of the corpus, in this order, e.g. 13-15,0-12 "
                        "(held-out ones first); the others keep their names and seeds")
    parser.add_argument("--sigma", type=float, default=None, help="Gaussian displacement per coordinate, Å "
                        "(default 0.05 for copies of one structure, 0 for trajectory frames)")
    parser.add_argument("--strain", type=float, default=None, help="random strain per component, e.g. 0.02 "
                        "(default 0.02 for copies, 0 for frames)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--basis", nargs="*", default=[], metavar="El=STRING",
                        help="basis per element, e.g. C=C6.0-s2p2d1 (default: OpenMX's standard ones)")
    parser.add_argument("--reference", type=Path, default=None, help="copy the settings of this openmx.dat")
    parser.add_argument("--data-path", type=Path, default=None,
                        help="DFT_DATA19 folder (default: beside the binary's folder, or $OPENMX_DATA_PATH)")
    parser.add_argument("--openmx", default=None, help="OpenMX binary (default: $DEEPH2_OPENMX or openmx on PATH)")
    parser.add_argument("--np", type=int, default=1, dest="nprocs", help="MPI processes per run")
    parser.add_argument("--threads", type=int, default=1, help="OpenMP/BLAS threads per process")
    parser.add_argument("--jobs", type=int, default=1, help="runs at the same time")
    parser.add_argument("--kpts", type=int, nargs=3, default=None, help="k mesh (default: density 3 per Å^-1)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="further OpenMX keywords")
    parser.add_argument("--no-progress", action="store_true")


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise ValueError(f"--{what} expects KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def run(args: argparse.Namespace) -> int:
    from ase_deeph2.io import read_structures

    from ..dft import corpus_structures, make_corpus, parse_indices
    from ..openmx_runs import OpenMXError, OpenMXSettings, default_data_path, find_openmx

    n_frames = len(read_structures(args.structure))
    single = n_frames == 1
    sigma = args.sigma if args.sigma is not None else (0.05 if single else 0.0)
    strain = args.strain if args.strain is not None else (0.02 if single else 0.0)
    structures = corpus_structures(args.structure, args.supercell, args.count, sigma, strain, args.seed, args.every)
    indices = parse_indices(args.only) if args.only else None
    find_openmx(args.openmx)  # a clear error before anything is written
    data_path = args.data_path or default_data_path(args.openmx)
    if data_path is None:
        raise OpenMXError("no DFT_DATA19 found beside the OpenMX binary or in $OPENMX_DATA_PATH: pass --data-path")
    elements = sorted({s for a in structures for s in a.get_chemical_symbols()})
    overrides = {"data_path": str(Path(data_path).resolve())}
    if args.kpts:
        overrides["kpts"] = tuple(args.kpts)
    if args.reference:
        settings = OpenMXSettings.from_dat(args.reference, **overrides)
    else:
        settings = OpenMXSettings.for_elements(elements, _pairs(args.basis, "basis"), **overrides)
    settings.keywords.update(_pairs(args.set, "set"))
    settings.check_data(elements)
    records = make_corpus(structures, args.output, settings, openmx=args.openmx, nprocs=args.nprocs, jobs=args.jobs,
                          threads=args.threads, progress=not args.no_progress, indices=indices)
    counts: dict[str, int] = {}
    for r in records:
        counts[r.status] = counts.get(r.status, 0) + 1
        if r.status != "converted":
            print(f"{r.name}: {r.status}: {r.reason}")
    print(f"{len(records)} structures: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
          + f"; DeepH folders in {args.output / 'deeph'}, summary in {args.output / 'summary.json'}")
    return 0 if counts.get("converted", 0) == len(records) else 1
