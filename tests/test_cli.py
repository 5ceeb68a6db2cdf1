import subprocess
import sys

import pytest

from modist.cli.main import COMMANDS, main


def _run(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_unknown_config_key_is_one_line_naming_the_key(capsys):
    code, _, err = _run(["pretrain", "--config", "demo", "method.temprature=0.5"], capsys)
    assert code == 2
    assert err.strip() == "modist: error: unknown config key 'method.temprature'; did you mean 'method.temperature'?"


def test_missing_config_file_is_named(tmp_path, capsys):
    code, _, err = _run(["pretrain", "--config", str(tmp_path / "missing.yaml")], capsys)
    assert code == 2 and "missing.yaml" in err and err.count("\n") == 1


def test_missing_dataset_is_named_and_nothing_is_written(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = _run(["pretrain", "--config", "demo", f"data.dataset=synth:{tmp_path / 'nowhere'}",
                         f"train.out_dir={out}"], capsys)
    assert code == 2 and "nowhere" in err and err.count("\n") == 1
    assert not (out / "checkpoint.pt").exists()


def test_console_script_reports_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "modist.cli.main", "pretrain", "--config", "demo", "train.steps=-3"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "train.steps" in proc.stderr


@pytest.mark.parametrize("sub", list(COMMANDS))
def test_every_command_has_help(sub, capsys):
    with pytest.raises(SystemExit) as exc:
        main([sub, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: modist {sub} ")
    assert "--help" in out and len(out.splitlines()) > 3  # its own options, not an empty placeholder


def test_top_level_help_lists_every_command_without_importing_torch():
    code = ("import sys, contextlib, io\n"
            "from modist.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
            "    main(['--help'])\n"
            "print('torch' in sys.modules)\n"
            "print(out.getvalue())")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imported_torch, help_text = proc.stdout.split("\n", 1)
    assert imported_torch == "False"
    for name, line in COMMANDS.items():
        assert name in help_text and line.split()[0] in help_text


def _parsers(parser, name=""):
    """``(command path, parser)`` of ``parser`` and every subcommand under it."""
    import argparse

    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, child in action.choices.items():
                yield from _parsers(child, f"{name} {sub}".strip())


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_help_shows_defaults(command):
    from modist.cli.main import build_parser

    parser = build_parser([command])
    for name, sub in _parsers(parser._subparsers._group_actions[0].choices[command], command):
        text = sub.format_help()
        for action in sub._actions:
            default = action.default
            if (not action.option_strings or not action.help or default is None or default is False
                    or default == "" or default == [] or default == "==SUPPRESS=="):
                continue
            rows = text.splitlines()
            first = next(i for i, row in enumerate(rows) if row.lstrip().startswith(action.option_strings[0]))
            last = next((i for i in range(first + 1, len(rows)) if not rows[i].startswith(" " * 10)), len(rows))
            shown = " ".join(rows[first:last])
            assert "default" in shown, (name, action.option_strings, shown)


def test_a_gpu_recipe_on_a_cpu_says_so_and_keeps_what_was_asked(capsys, monkeypatch):
    import os

    from modist.cli.pretrain import fit_to_machine
    from modist.config import load_config
    from modist.configs import config_path

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    cfg = load_config(config_path("k400_slow_r50_8x8"), ["train.device=cpu"])
    fitted = fit_to_machine(cfg, asked={"train.device"})
    err = capsys.readouterr().err.splitlines()
    assert (fitted.train.compile, fitted.train.precision, fitted.data.num_workers) == (False, "fp32", 2)
    assert len(err) == 2 and "train.compile=false, train.precision=fp32" in err[0] and "12" in err[1]
    kept = fit_to_machine(cfg, asked={"train.compile", "train.precision", "data.num_workers"})
    assert (kept.train.compile, kept.train.precision, kept.data.num_workers) == (True, "bf16", 12)
    assert capsys.readouterr().err == ""


def test_an_unknown_backbone_fails_when_the_config_loads_listing_the_known_ones(capsys):
    from modist.choices import BACKBONES

    for key in ("model.arch", "model.motion_arch"):
        code, _, err = _run(["pretrain", "--config", "demo", f"{key}=resnet50"], capsys)
        assert code == 2 and err.strip() == (f"modist: error: invalid value 'resnet50' for {key}; "
                                             f"choose from {', '.join(BACKBONES)}")
    # Validating model.arch does not need the networks: the names live in modist.choices.
    code = ("import sys\nfrom modist.config import load_config\n"
            "try:\n    load_config(None, ['model.arch=resnet50'])\n"
            "except Exception as exc:\n    print(type(exc).__name__)\n"
            "print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["ConfigError", "False"]


def test_backbone_names_and_presets_are_one_registry():
    from modist.choices import BACKBONES
    from modist.models import resnet3d

    assert list(resnet3d.BACKBONES) == list(BACKBONES)
    for name, target in BACKBONES.items():
        assert f"{resnet3d.BACKBONES[name].__module__}:{resnet3d.BACKBONES[name].__name__}" == target


@pytest.mark.parametrize(("classes", "per_class", "expected"), [
    (1, 1, "1 video, 1 class"),
    (2, 1, "2 videos, 2 classes"),
])
def test_data_check_counts_in_words(classes, per_class, expected, tmp_path, capsys):
    import numpy as np

    from modist.data.video import write_video

    for c in range(classes):
        for i in range(per_class):
            (tmp_path / f"class{c}").mkdir(exist_ok=True)
            write_video(tmp_path / f"class{c}" / f"v{i}.mp4", np.zeros((4, 32, 32, 3), np.uint8), fps=4)
    code, out, _ = _run(["data", "check", f"folder:{tmp_path}", "--quiet"], capsys)
    assert code == 0 and f": {expected} (probe + first/last frame)" in out.splitlines()[0], out


def test_python_dash_m_modist_runs_the_command():
    proc = subprocess.run([sys.executable, "-m", "modist", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: modist ")
    assert all(name in proc.stdout for name in COMMANDS)


def test_eval_subcommands_are_built_from_one_table():
    from modist.cli.evaluate import SUBCOMMANDS
    from modist.cli.main import build_parser

    eval_parser = build_parser(["eval"])._subparsers._group_actions[0].choices["eval"]
    subs = eval_parser._subparsers._group_actions[0].choices
    assert list(subs) == list(SUBCOMMANDS)
    for name, (module, _, text) in SUBCOMMANDS.items():
        assert subs[name].get_default("func").__module__ == f"modist.cli.{module}", name
        assert subs[name].description.lower().startswith(text.split()[0].lower()), name


def test_the_models_command_does_not_import_the_bench_command():
    code = ("import sys\nfrom modist.cli.main import build_parser\nbuild_parser(['models'])\n"
            "print('modist.cli.bench' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"


def test_a_library_error_names_the_flag_of_the_command_that_has_one():
    from modist.cli.main import with_flags

    message = "x.pt: weights-only loading refused it; if you trust this file, pass trust_pickle=True (...)"
    assert with_flags(message, "convert").endswith("pass --trust-pickle (...)")
    assert with_flags(message, "embed") == message  # a command without that flag keeps the library's name
