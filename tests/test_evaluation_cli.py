"""``modist eval {linear,knn,retrieval,all}``: outputs, feature cache, merging, errors."""

import json

import pytest
import torch

from modist.cli.main import main

from test_evaluation_embed import tiny_checkpoint

torch.set_num_threads(1)
FAST = ["--temporal-views", "2", "--batch-size", "8", "--device", "cpu", "--no-progress"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


def test_eval_all_writes_results_and_reuses_cached_features(tiny_synth, ckpt, tmp_path, capsys):
    out = tmp_path / "eval"
    args = ["eval", "all", "--checkpoint", str(ckpt), "--dataset", f"synth:{tiny_synth}", "--out", str(out),
            "--epochs", "20", *FAST]
    assert main(args) == 0
    first_out = capsys.readouterr().out
    assert "cached features reused for: none" in first_out
    results = json.loads((out / "results.json").read_text())
    rows = {(r["protocol"], r["split"]): r for r in results["results"]}
    assert set(rows) == {(p, s) for p in ("linear", "knn", "retrieval") for s in ("test_biased", "test_unbiased")}
    assert all(r["num_videos"] == 20 for r in rows.values())
    r = rows[("retrieval", "test_unbiased")]
    assert 0 <= r["R@1"] <= r["R@5"] <= r["R@10"] <= r["R@20"] <= 1
    assert results["meta"]["encoder"]["crop_size"] == 32 and results["meta"]["views"] == "2x1"
    md = (out / "results.md").read_text()
    assert "| linear | modist | test_unbiased | 20 |" in md and "R@20" in md
    for p in ("linear", "knn", "retrieval"):
        assert (out / f"confusion_{p}_test_biased.png").stat().st_size > 1000
        assert (out / f"per_class_{p}_test_unbiased.png").stat().st_size > 1000
    assert len(list((ckpt / "feature_cache").glob("*.npz"))) == 3
    # Each protocol is named, with every value it used and where that value comes from.
    blocks = results["protocols"]
    assert set(blocks) == {"linear:modist", "knn:modist", "retrieval:modist"}
    assert all(r["preset"] == "modist" for r in rows.values())
    lin = blocks["linear:modist"]
    assert lin["name"] == "modist" and lin["values"]["epochs"] == 20 and lin["values"]["optimizer"] == "adam"
    assert lin["overridden"] == ["epochs", "temporal_views"] and lin["values"]["clip_frames"] == 4
    assert blocks["knn:modist"]["values"]["k"] == 20 and blocks["retrieval:modist"]["values"]["ks"] == [1, 5, 10, 20]
    assert "### linear / modist" in md and "| epochs | 20 (given) |" in md

    assert main(args) == 0  # second run: every split from the cache, identical numbers
    assert "cached features reused for: train, test_biased, test_unbiased" in capsys.readouterr().out
    again = json.loads((out / "results.json").read_text())
    assert again["results"] == results["results"]


def test_separate_protocol_runs_merge_into_one_table(tiny_synth, ckpt, tmp_path, capsys):
    out = tmp_path / "eval"
    common = ["--checkpoint", str(ckpt), "--dataset", f"synth:{tiny_synth}", "--test-split", "test_unbiased",
              "--out", str(out), "--no-cache", *FAST]
    assert main(["eval", "knn", *common, "--k", "5"]) == 0
    assert main(["eval", "retrieval", *common, "--ks", "1,3"]) == 0
    capsys.readouterr()
    rows = json.loads((out / "results.json").read_text())["results"]
    assert [(r["protocol"], r["split"]) for r in rows] == [("knn", "test_unbiased"), ("retrieval", "test_unbiased")]
    assert rows[0]["k"] == 5 and set(rows[1]) >= {"R@1", "R@3"}


@pytest.mark.parametrize("extra, needle", [
    (["--test-split", "test"], "test"),
    (["--ks", "1,x"], "--ks"),
    (["--temporal-views", "0"], "--temporal-views"),
    (["--device", "cuda:7x"], "--device"),
])
def test_bad_arguments_are_one_line_errors(tiny_synth, ckpt, tmp_path, capsys, extra, needle):
    code = main(["eval", "retrieval", "--checkpoint", str(ckpt), "--dataset", f"synth:{tiny_synth}",
                 "--out", str(tmp_path / "e"), "--no-cache", "--no-progress", *extra])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and err.count("\n") == 1, err
    assert not (tmp_path / "e" / "results.json").exists()


def test_missing_checkpoint_is_named(tiny_synth, tmp_path, capsys):
    code = main(["eval", "knn", "--checkpoint", str(tmp_path / "gone"), "--dataset", f"synth:{tiny_synth}"])
    err = capsys.readouterr().err
    assert code == 2 and "gone" in err and err.count("\n") == 1


def test_linear_under_the_maclr_protocol_trains_online_and_names_it(tiny_synth, ckpt, tmp_path, capsys):
    out = tmp_path / "eval"
    small = ["--clip-frames", "4", "--stride", "2", "--crop-size", "32", "--test-crop-size", "32", "--probe-batch", "8",
             "--expand-dataset", "1", "--max-steps", "2", "--temporal-views", "1", "--spatial-views", "1"]
    args = ["eval", "linear", "--protocol", "maclr", "--checkpoint", str(ckpt), "--dataset", f"synth:{tiny_synth}",
            "--test-split", "test_unbiased", "--out", str(out), "--device", "cpu", "--no-progress", *small]
    assert main(args) == 0
    assert "trained the linear classifier on" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    (row,) = results["results"]
    assert (row["protocol"], row["preset"]) == ("linear", "maclr")
    block = results["protocols"]["linear:maclr"]
    assert block["name"] == "maclr" and block["values"]["lr"] == 32.0 and block["values"]["epochs"] == 4
    assert block["values"]["frozen_backbone"] is True and block["values"]["conv1_temporal_stride"] == 2
    assert block["values"]["flip"] is False  # synth: its classes are directions
    assert "expand_dataset" in block["overridden"] and "lr" not in block["overridden"]
    assert results["meta"]["recipe"]["frozen_backbone"] and results["meta"]["steps"] == 2
    assert "### linear / maclr" in (out / "results.md").read_text()
    assert (out / "curves_linear.png").is_file() and not (out / "finetuned.safetensors").exists()


@pytest.mark.parametrize("extra, needle", [
    (["--protocol", "maclr", "--average", "features"], "--average does not apply to eval linear --protocol maclr"),
    (["--protocol", "maclr", "--no-cache"], "--no-cache does not apply to eval linear --protocol maclr"),
    (["--expand-dataset", "2"], "--expand-dataset does not apply to eval linear --protocol modist"),
    (["--max-steps", "2"], "--max-steps does not apply to eval linear --protocol modist"),
])
def test_options_of_another_protocol_are_one_line_errors(tiny_synth, ckpt, tmp_path, capsys, extra, needle):
    code = main(["eval", "linear", "--checkpoint", str(ckpt), "--dataset", f"synth:{tiny_synth}",
                 "--out", str(tmp_path / "e"), "--no-progress", *extra])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and err.count("\n") == 1, err


def test_help_says_options_override_the_protocol(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "finetune", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--protocol {modist,maclr}" in text and "overrides that value of the protocol" in text
    assert "default: the protocol's (modist 30, maclr 10)" in text  # --epochs, from the presets themselves
    assert "1 on ssv2" in text and "False on ssv2" in text
