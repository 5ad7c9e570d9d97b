"""``deeph2 models``: the shipped models, with what they were trained on and how well they do."""

from __future__ import annotations

import argparse

NAME = "models"
HELP = "list the shipped models (name, elements, basis, held-out error)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", default=None, help="show one model's whole card")


def run(args: argparse.Namespace) -> int:
    import json

    from ..pretrained import available, card

    if args.name:
        print(json.dumps(card(args.name), indent=1))
        return 0
    for name in available():
        c = card(name)
        print(f"{name:28s} {c.get('summary', '')}")
    return 0
