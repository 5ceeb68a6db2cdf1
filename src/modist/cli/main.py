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
import logging
import signal
import sys

from modist.errors import ModistError

COMMANDS = {  # name: the one-line help of ``modist --help``
    "synth": "generate the synthetic motion benchmark (videos, masks, manifest.csv)",
    "pretrain": "pretrain from a YAML config with key=value overrides",
    "config": "show the resolved config of recipes and overrides, or list every config key",
    "demo": "generate data, pretrain MoDist and baselines, evaluate, report",
    "bench": "benchmarks: speed, memory, accuracy",
    "data": "inspect datasets: check that every video decodes",
    "flow": "visualise optical flow of a video or precompute motion input for a dataset",
    "prepare": "transcode a dataset once for fast training reads (short keyframe interval, manifest)",
    "embed": "embed videos with a pretrained encoder (mean over uniformly sampled clips)",
    "export": "write the encoder of a run's checkpoint (encoder.safetensors + encoder.json)",
    "eval": "evaluate an encoder: linear probe, kNN, retrieval, finetune, saliency, motion probes",
    "explain": "saliency overlays of encoders on a video or dataset (GIF per clip, contact sheet)",
    "models": "backbone table: parameters and GFLOPs per view",
    "convert": "import PySlowFast/pytorchvideo/mmaction2 weights as a modist run, or export to them",
}
MODULES = {"eval": "evaluate"}  # where a command's module name differs from the command
# Library errors name parameters and config keys, never flags. Where a command's user needs the
# flag instead, its printed error names it: command -> {what the library's message says: the flag}.
FLAGS = {
    "convert": {"trust_pickle=True": "--trust-pickle"},
    "pretrain": {"train.overwrite=true": "--overwrite (train.overwrite=true)"},
}


class _ShowDefaults(argparse.HelpFormatter):
    """Every option's help ends with its default, unless the text already names one or there is none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (not action.option_strings or "default" in text or default is None or default is False
                or default == "" or default == [] or default is argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """Command parsers (and theirs, which argparse builds of the same class) show defaults in --help."""

    def __init__(self, *args, formatter_class=_ShowDefaults, **kwargs):
        super().__init__(*args, formatter_class=formatter_class, **kwargs)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The full parser of the command named in ``argv``; every other command is listed by name and help only."""
    from modist import __version__

    parser = argparse.ArgumentParser(
        prog="modist",
        description="Self-supervised video representation learning by motion distillation.",
    )
    parser.add_argument("--version", action="version", version=f"modist {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)
    argv = sys.argv[1:] if argv is None else argv
    # The top-level parser has no option that takes a value, so the first bare word is the command.
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, help_text in COMMANDS.items():
        command = subparsers.add_parser(name, help=help_text)
        if name == chosen:
            importlib.import_module(f"modist.cli.{MODULES.get(name, name)}").configure(command)
    return parser


def with_flags(message: str, command: str) -> str:
    """``message`` with the names :data:`FLAGS` lists for ``command`` replaced by their flags.

    >>> with_flags("a.pt: refused; if you trust this file, pass trust_pickle=True", "convert")
    'a.pt: refused; if you trust this file, pass --trust-pickle'
    """
    for name, flag in FLAGS.get(command, {}).items():
        message = message.replace(name, flag)
    return message


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the same unwinding, no partial outputs, exit status 143."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


class _Console(logging.Handler):
    """The library's info and warning lines on stderr, above a progress bar rather than inside it."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        tqdm.write(self.format(record), file=sys.stderr)  # sys.stderr as it is now, not at setup


def _show_library_messages() -> None:
    logger = logging.getLogger("modist")
    if not any(isinstance(h, _Console) for h in logger.handlers):
        logger.addHandler(_Console())
    logger.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """Run one command. Exit status: 0 done, 2 error (one line), 130 Ctrl-C (SIGINT), 143 SIGTERM."""
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    _show_library_messages()
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.func(args) or 0)
    except ModistError as exc:
        print(f"modist: error: {with_flags(str(exc), args.command)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a read-only folder, a full disk: the file and the reason, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"modist: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except Terminated:
        print("modist: terminated (SIGTERM)", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("modist: interrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
