"""``modist explain`` and ``modist eval saliency|probe``: outputs, summaries, one-line errors."""

import json

import pytest
import torch

from modist.cli.main import main

from test_evaluation_embed import tiny_checkpoint

torch.set_num_threads(1)
FAST = ["--device", "cpu", "--no-progress"]


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    return (tiny_checkpoint(tmp_path_factory.mktemp("rgb")),
            tiny_checkpoint(tmp_path_factory.mktemp("motion"), modality="motion"))


def test_explain_compares_rgb_and_motion_encoders_on_the_same_clips(tiny_synth, ckpts, tmp_path, capsys):
    out = tmp_path / "explain"
    args = ["explain", "--checkpoint", str(ckpts[0]), "--checkpoint", str(ckpts[1]), "--label", "rgb",
            "--label", "motion", "--input", f"synth:{tiny_synth}", "--max-videos", "2", "--clips", "2",
            "--out", str(out), *FAST]
    assert main(args) == 0
    assert "explained 4 clip(s) of 2 video(s) with 2 encoder(s)" in capsys.readouterr().out
    info = json.loads((out / "explain.json").read_text())
    assert len(info["gifs"]) == 2 * 2 * 2 * 2  # videos x clips x encoders x maps
    assert {p.split("/")[-2] for p in info["gifs"]} == {"rgb", "motion"}
    assert (out / "contact_sheet.png").stat().st_size > 2000
    from PIL import Image

    with Image.open(info["gifs"][0]) as gif:
        assert gif.n_frames == 4 and gif.size[0] == 2 * gif.size[1]


def test_explain_a_video_file_and_a_dataset_together(tiny_synth, ckpts, tmp_path, capsys):
    video = next((tiny_synth / "videos").rglob("*.mp4"))
    assert main(["explain", "--checkpoint", str(ckpts[0]), "--input", str(video), "--input", f"synth:{tiny_synth}",
                 "--max-videos", "1", "--map", "gradient", "--out", str(tmp_path), *FAST]) == 0
    assert "explained 2 clip(s) of 2 video(s) with 1 encoder(s)" in capsys.readouterr().out
    assert (tmp_path / ckpts[0].name / f"{video.stem}_clip0_gradient.gif").is_file()


def test_eval_saliency_writes_results(tiny_synth, ckpts, tmp_path, capsys):
    out = tmp_path / "sal"
    assert main(["eval", "saliency", "--checkpoint", str(ckpts[1]), "--dataset", f"synth:{tiny_synth}",
                 "--map", "activation", "--max-videos", "5", "--out", str(out), *FAST]) == 0
    text = capsys.readouterr().out
    assert "foreground lift" in text and "activation saliency of 1 checkpoint(s) on 5 test_unbiased video(s)" in text
    res = json.loads((out / "results.json").read_text())
    run = res["runs"][0]
    assert run["results"]["videos"] == 5 and len(run["per_video"]["foreground_lift"]) == 5
    assert run["results"]["foreground_lift"]["low"] <= run["results"]["foreground_lift"]["high"]
    assert res["over_checkpoints"]["foreground_lift"] is None


def test_eval_probe_writes_results(tiny_synth, ckpts, tmp_path, capsys):
    out = tmp_path / "probe"
    second = tiny_checkpoint(tmp_path / "seed1", seed=1)
    assert main(["eval", "probe", "--task", "static", "--checkpoint", str(ckpts[0]), "--checkpoint", str(second),
                 "--dataset", f"synth:{tiny_synth}", "--max-videos", "8", "--epochs", "20", "--out", str(out),
                 *FAST]) == 0
    text = capsys.readouterr().out
    assert "static probe accuracy" in text and "accuracy over 2 checkpoints" in text
    res = json.loads((out / "results.json").read_text())
    first = res["runs"][0]["results"]
    assert first["test_videos"] == 4 and first["chance"] == 0.5 and 0 <= first["accuracy"] <= 1
    accs = [r["results"]["accuracy"] for r in res["runs"]]
    assert res["over_checkpoints"]["mean"] == pytest.approx(sum(accs) / 2) and res["over_checkpoints"]["n"] == 2


@pytest.mark.parametrize("args, message", [
    (["eval", "saliency", "--dataset", "folder:{root}"], "synthetic benchmark"),
    (["eval", "probe", "--task", "speed", "--dataset", "synth:{root}"], "shorter than"),
    (["explain", "--input", "synth:{root}", "--label", "a", "--label", "b", "--out", "{tmp}"], "--label"),
    (["explain", "--input", "synth:{root}", "--clips", "0", "--out", "{tmp}"], "--clips"),
    (["eval", "probe", "--task", "arrow", "--dataset", "synth:{root}", "--checkpoint", "{ckpt}"], "--out is required"),
])
def test_errors_are_one_line_and_exit_2(tiny_synth, ckpts, tmp_path, capsys, args, message):
    args = [a.format(root=tiny_synth, tmp=tmp_path, ckpt=ckpts[1]) for a in args]
    assert main([*args, "--checkpoint", str(ckpts[0]), "--max-videos", "3", *FAST]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("modist: error:") and message in err and "\n" not in err


def test_explain_adds_class_gradcam_for_a_finetuned_classifier(tiny_synth, ckpts, tmp_path, capsys):
    from modist.evaluation.encoder import load_eval_encoder
    from modist.models.classifier import VideoClassifier
    from modist.models.encoder_io import save_weights

    save_weights(tmp_path / "ft" / "finetuned.safetensors", VideoClassifier(load_eval_encoder(ckpts[0]).backbone, 10))
    out = tmp_path / "explain"
    assert main(["explain", "--checkpoint", str(ckpts[0]), "--checkpoint", str(ckpts[1]), "--label", "a", "--label",
                 "b", "--classifier", str(tmp_path / "ft"), "--classifier", "none", "--input", f"synth:{tiny_synth}",
                 "--max-videos", "1", "--map", "activation", "--out", str(out), *FAST]) == 0
    gifs = json.loads((out / "explain.json").read_text())["gifs"]
    assert sorted(g.split("/")[-2] + ":" + g.rsplit("_", 1)[1] for g in gifs) == [
        "a:activation.gif", "a:class.gif", "b:activation.gif"]
    assert main(["explain", "--checkpoint", str(ckpts[0]), "--classifier", str(tmp_path / "nothing"),
                 "--input", f"synth:{tiny_synth}", "--out", str(out), *FAST]) == 2
    assert "classifier not found" in capsys.readouterr().err
