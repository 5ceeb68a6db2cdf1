import yaml

from modist.cli.config import key_table
from modist.cli.main import main
from modist.config import load_config, to_dict
from modist.configs import config_path


def _run(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_show_prints_the_config_a_run_would_use_and_reads_back(tmp_path, capsys):
    code, out, _ = _run(["config", "show", "demo", "train.steps=7", "method.temperature=0.3"], capsys)
    assert code == 0
    assert out.splitlines()[0] == "# resolved from demo with train.steps=7 method.temperature=0.3"
    shown = tmp_path / "shown.yaml"
    shown.write_text(out)
    expected = load_config(config_path("demo"), ["train.steps=7", "method.temperature=0.3"])
    assert load_config(shown) == expected
    assert yaml.safe_load(out)["train"]["steps"] == 7


def test_show_without_a_recipe_is_the_defaults(capsys):
    code, out, _ = _run(["config", "show"], capsys)
    assert code == 0 and "built-in defaults" in out.splitlines()[0]
    assert yaml.safe_load(out) == to_dict(load_config())


def test_show_names_a_bad_key_with_a_suggestion(capsys):
    code, _, err = _run(["config", "show", "demo", "train.step=3"], capsys)
    assert code == 2
    assert err.strip() == "modist: error: unknown config key 'train.step'; did you mean 'train.steps'?"


def test_keys_lists_every_key_with_default_and_choices(capsys):
    code, out, _ = _run(["config", "keys"], capsys)
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines()}
    assert set(rows) == set(to_dict_keys())
    assert "[same, other]" in rows["method.cross_view"]
    assert rows["train.steps"].split()[1:3] == ["int", "1000"]
    assert "optimiser steps of the run" in rows["train.steps"]
    assert len(key_table("optim")) == len([k for k in rows if k.startswith("optim.")])
    assert all(row[4] for row in key_table()), "every key has a line of help (modist.config.KEY_HELP)"


def test_a_misspelt_choice_suggests_the_nearest(capsys):
    code, _, err = _run(["config", "show", "demo", "method.name=modst"], capsys)
    assert code == 2 and err.strip().endswith("did you mean 'modist'?")


def to_dict_keys():
    return [f"{section}.{key}" for section, values in to_dict(load_config()).items() for key in values]


def test_bare_pretrain_says_it_trains_the_builtin_defaults(tmp_path, capsys):
    code, _, err = _run(["pretrain", f"data.dataset=synth:{tmp_path / 'nowhere'}",
                         f"train.out_dir={tmp_path / 'run'}"], capsys)
    first = err.splitlines()[0]
    assert first.startswith("modist: no --config: training the built-in defaults (r3d_tiny width 16, adamw lr 0.001")
    assert "k400_slow_r50_8x8" in first and code == 2
