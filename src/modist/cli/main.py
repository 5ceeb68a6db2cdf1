"""Entry point of the ``modist`` command.

Each subcommand lives in its own module under :mod:`modist.cli` exposing
``register(subparsers)``; the module's ``run(args) -> int`` is stored as the
parser default ``func``. Modules are imported only when listed here, so adding a
command is one line in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from modist.errors import ModistError

COMMANDS = [
    "synth",
    "pretrain",
    "demo",
    "bench",
    "data",
    "flow",
    "embed",
    "evaluate",
    "models",
]


def build_parser() -> argparse.ArgumentParser:
    from modist import __version__

    parser = argparse.ArgumentParser(
        prog="modist",
        description="Self-supervised video representation learning by motion distillation.",
    )
    parser.add_argument("--version", action="version", version=f"modist {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"modist.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ModistError as exc:
        print(f"modist: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("modist: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
