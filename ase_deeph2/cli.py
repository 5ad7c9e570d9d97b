"""The ``deeph2`` command line: DFT Hamiltonians predicted by DeepH-2 models, bands, DOS and data.

Each command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
Errors that a user can fix (bad file, unknown element, ...) are printed as one line, not a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

#: Modules providing sub-commands, in the order ``deeph2 --help`` lists them.
COMMANDS = (
    "ase_deeph2.commands.bands",
    "ase_deeph2.commands.dos",
    "ase_deeph2.commands.predict",
    "ase_deeph2.commands.md",
    "ase_deeph2.commands.models",
    "ase_deeph2.commands.convert",
    "ase_deeph2.training.commands.dft",
    "ase_deeph2.training.commands.train",
    "ase_deeph2.training.commands.evaluate",
)

DESCRIPTION = """\
Predicted DFT Hamiltonians (DeepH-2 / ELCT models in an OpenMX numerical-atomic-orbital basis)
and what follows from them: band structures, DOS, Fermi levels and gaps of any structure, MD
frames of large supercells, and the OpenMX data and training that make new models.

examples:
  deeph2 bands structure.xyz --model graphene-openmx -o bands.png
  deeph2 dos openmx.scfout -o dos.png
  deeph2 md trajectory.traj --model graphene-openmx -o md/
  deeph2 dft graphene.xyz -o data/ --supercell 4 4 1 --count 20
  deeph2 train config.toml
"""


def _unavailable(name: str, error: Exception):
    def run(args) -> int:
        raise RuntimeError(f"this command needs {name}, which cannot be imported ({error}); "
                           "install the package (pip install -e .) rather than running it from a source tree")
    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deeph2", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traceback", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if not (err.name and name.startswith(err.name)):
                raise
            command = name.rsplit(".", 1)[1]
            p = sub.add_parser(command, help=f"(unavailable: {name} is not installed)")
            p.add_argument("args", nargs=argparse.REMAINDER)
            p.set_defaults(_run=_unavailable(name, err))
            continue
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.__doc__.strip() if mod.__doc__ else mod.HELP,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


@contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM (``kill``) and SIGINT (Ctrl-C, also for a command started in the
    background, where the shell ignores SIGINT) raise KeyboardInterrupt: the command stops its OpenMX
    runs and leaves no half-written file instead of dying at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, signal.default_int_handler)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _stop_signals_interrupt():
            return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print(f"deeph2 {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # every error a user meets is one line; --traceback shows the rest
        if args.traceback:
            raise
        if isinstance(err, (ValueError, KeyError, OSError, RuntimeError)):
            msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        else:  # not an error of the input: say what it is and how to see more
            msg = f"{type(err).__name__}: {err} (run with --traceback for details)"
        print(f"deeph2 {args.command}: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
