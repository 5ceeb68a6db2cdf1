import json

from modist.config import load_config
from modist.demo.run import demo_config, run_demo
from modist.methods.factory import resolve_weights
from modist.methods.modist import LossWeights
from modist.synth import SynthConfig


def test_demo_writes_the_documented_results(tmp_path):
    synth = SynthConfig(size=48, num_frames=16, train_per_class=2, test_per_class=1)
    overrides = ["train.batch_size=8", "data.crop_size=32", "model.base_width=4", "model.proj_hidden=32",
                 "method.queue_size=16", "train.threads=0"]
    runs, table = run_demo(tmp_path, seeds=(0, 1), methods=("modist", "supervised"), device="cpu", steps=2,
                           overrides=overrides, progress=False, synth_config=synth)
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["runs"] == runs
    assert {(r["method"], r["split"], r["seed"]) for r in runs} == {
        (m, s, seed) for m in ("modist", "supervised") for s in ("test_biased", "test_unbiased") for seed in (0, 1)}
    for r in runs:
        assert 0.0 <= r["linear_top1"] <= 1.0 and 0.0 <= r["knn_top1"] <= 1.0
        assert r["num_videos"] == 10
    md = (tmp_path / "results.md").read_text()
    assert "| modist |" in md and "± " in md  # two seeds: mean ± std
    assert (tmp_path / "results.png").is_file()
    assert (tmp_path / "modist_seed1" / "config.yaml").is_file()
    # The demo's MoDist runs the cross-modal terms only; the saved config says so.
    saved = load_config(tmp_path / "modist_seed0" / "config.yaml")
    assert saved.method.name == "modist" and saved.method.weight_vv == 0.0
    assert resolve_weights(saved) == LossWeights(vv=0.0, mm=0.0, vm=1.0, mv=1.0)


def test_per_method_overrides_touch_only_their_method_and_yield_to_the_user(tmp_path):
    rgb = demo_config("rgb_only", tmp_path, tmp_path / "data", 0, 10, "cpu")
    assert resolve_weights(rgb) == LossWeights(vv=1.0, mm=0.0, vm=0.0, mv=0.0)
    mine = demo_config("modist", tmp_path, tmp_path / "data", 0, 10, "cpu", ["method.weight_vv=0.5"])
    assert resolve_weights(mine).vv == 0.5
