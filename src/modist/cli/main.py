"""Entry point of the ``modist`` command.

Each subcommand lives in its own module under :mod:`modist.cli` exposing
``configure(parser)``, which adds the command's arguments and stores its
``run(args) -> int`` as the parser default ``func``. Only the module of the command
being run is imported: the others pull in torch, and ``modist --help`` or a typo
should not wait seconds for it. Adding a command is one line in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from modist.errors import ModistError

COMMANDS = {  # name: the one-line help of ``modist --help``
    "synth": "generate the synthetic motion benchmark (videos, masks, manifest.csv)",
    "pretrain": "pretrain from a YAML config with key=value overrides",
    "demo": "generate data, pretrain MoDist and baselines, evaluate, report",
    "bench": "benchmarks: speed, memory, accuracy",
    "data": "inspect datasets: check that every video decodes",
    "flow": "visualise optical flow of a video or precompute motion input for a dataset",
    "embed": "embed videos with a pretrained encoder (mean over uniformly sampled clips)",
    "eval": "evaluate an encoder: linear probe, kNN, retrieval, finetune",
    "models": "backbone table: parameters and GFLOPs per view",
}
MODULES = {"eval": "evaluate"}  # where a command's module name differs from the command


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The full parser of the command named in ``argv``; every other command is listed by name and help only."""
    from modist import __version__

    parser = argparse.ArgumentParser(
        prog="modist",
        description="Self-supervised video representation learning by motion distillation.",
    )
    parser.add_argument("--version", action="version", version=f"modist {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    argv = sys.argv[1:] if argv is None else argv
    # The top-level parser has no option that takes a value, so the first bare word is the command.
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, help_text in COMMANDS.items():
        command = subparsers.add_parser(name, help=help_text)
        if name == chosen:
            importlib.import_module(f"modist.cli.{MODULES.get(name, name)}").configure(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(argv)
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
