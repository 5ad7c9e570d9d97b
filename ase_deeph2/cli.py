"""The ``deeph2`` command: one sub-command per module in ``ase_deeph2.commands``.

Each command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
Errors that a user can fix (bad file, unknown element, ...) are printed as one line, not a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Modules under ase_deeph2.commands (and the training subpackage) providing sub-commands.
COMMANDS = (
    "ase_deeph2.commands.convert",
    "ase_deeph2.commands.bands",
    "ase_deeph2.commands.predict",
    "ase_deeph2.training.commands.train",
    "ase_deeph2.training.commands.evaluate",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deeph2", description=__doc__.splitlines()[0])
    parser.add_argument("--traceback", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name and name.startswith(err.name):
                continue  # that command is not part of this installation
            raise
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (ValueError, KeyError, FileNotFoundError, OSError, RuntimeError) as err:
        if args.traceback:
            raise
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"deeph2 {args.command}: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
