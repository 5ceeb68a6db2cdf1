import json
import math

import pytest

from modist.cli.main import main
from modist.config import load_config
from modist.demo import ARMS, DEMO_METHODS
from modist.demo.report import comparisons, validity
from modist.demo.run import demo_config, run_demo
from modist.methods.motion_distill import LossWeights, resolve_weights
from modist.synth import SynthConfig
from modist.synth.config import DetectionSynthConfig

TINY = SynthConfig(size=32, num_frames=16, train_per_class=2, test_per_class=1, train_unbiased_per_class=2,
                   actor_scale=1.6, texture_scale=2.0)
SMALL = ["train.batch_size=8", "model.base_width=4", "model.proj_hidden=32", "method.queue_size=16",
         "train.threads=0"]


TINY_DETECTION = DetectionSynthConfig(train_videos=2, val_videos=1, test_videos=1, seconds=2, size=48)


def _demo(out, seeds=(0,), methods=DEMO_METHODS, detection=None):
    return run_demo(out, seeds=seeds, methods=methods, device="cpu", steps=2, overrides=SMALL, progress=False,
                    synth_config=TINY, detection=detection, detection_config=TINY_DETECTION)


@pytest.mark.slow
def test_demo_writes_every_arm_the_validity_checks_and_the_paired_difference(tmp_path):
    runs, report = _demo(tmp_path, seeds=(0, 1), detection="both")
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["runs"] == runs
    assert {(r["method"], r["split"], r["seed"]) for r in runs} == {
        (m, s, seed) for m in DEMO_METHODS for s in ("test_biased", "test_unbiased") for seed in (0, 1)}
    assert {r["train_split"] for r in runs if r["method"] == "supervised_unbiased"} == {"train_unbiased"}
    assert all(r["num_videos"] == 10 and 0.0 <= r["linear_top1"] <= 1.0 for r in runs)
    v = data["validity"]
    assert set(v) >= {"ceiling", "teacher", "shortcut_gap", "passed"} and isinstance(v["passed"], bool)
    # The saliency checks, scored on the camouflaged saliency split, with the random-init reference.
    assert {"saliency_ceiling", "saliency_shortcut", "saliency_learned"} <= set(v)
    assert isinstance(v["saliency_passed"], bool)
    assert json.loads((tmp_path / "data_saliency" / "synth.json").read_text())["config"]["camouflage"] is True
    ceiling = [r for r in runs if r["method"] == "supervised_unbiased" and r["split"] == "test_unbiased"]
    assert all(r["random_init_foreground_lift"] is not None for r in ceiling)
    assert (tmp_path / "saliency.png").is_file() and "Saliency checks" in report
    (diff,) = data["comparisons"]
    assert diff["method"] == "modist" and diff["baseline"] == "rgb_only" and diff["linear"]["n"] == 2
    machine = data["meta"]["machine"]
    assert machine["cpu_cores"] >= 1 and machine["torch_threads"] >= 1 and machine["versions"]["torch"]
    assert data["meta"]["seconds"] > 0
    assert "Validity checks" in report and "paired by seed" in report and "± " in report
    # Every RGB encoder is scored on the detection benchmark, through modist eval detect's code path.
    assert {r["method"] for r in runs if "detection_map" in r} == set(DEMO_METHODS) - {"motion_only"}
    assert all(0 <= r["detection_map"] <= 1 for r in runs if "detection_map" in r)
    # "both" also finetunes, on test_unbiased only.
    assert {(r["method"], r["split"]) for r in runs if "detection_finetune_map" in r} == {
        (m, "test_unbiased") for m in DEMO_METHODS if m != "motion_only"}
    assert (tmp_path / "modist_seed0" / "eval_detect_finetune" / "test_unbiased" / "results.json").is_file()
    det = json.loads((tmp_path / "rgb_only_seed1" / "eval_detect" / "test_unbiased" / "results.json").read_text())
    assert det["mAP"] == next(r["detection_map"] for r in runs if r["method"] == "rgb_only" and r["seed"] == 1
                              and r["split"] == "test_unbiased")
    assert "Action detection on the synthetic detection benchmark" in report and "finetuned test_unbiased" in report
    for arm in DEMO_METHODS:
        assert (tmp_path / f"{arm}_seed1" / "encoder.safetensors").is_file()
    # The modist row is the published recipe: visual<->visual plus both cross-modal terms.
    saved = load_config(tmp_path / "modist_seed0" / "config.yaml")
    assert resolve_weights(saved) == LossWeights(vv=1.0, mm=0.0, vm=1.0, mv=1.0)
    assert load_config(tmp_path / "supervised_unbiased_seed0" / "config.yaml").data.split == "train_unbiased"


@pytest.mark.slow
def test_demo_rows_are_reproduced_by_modist_eval_and_by_a_second_run(tmp_path, capsys):
    runs, _ = _demo(tmp_path, methods=("rgb_only", "motion_only"))
    again, _ = _demo(tmp_path, methods=("rgb_only", "motion_only"))
    assert [r["linear_top1"] for r in again] == [r["linear_top1"] for r in runs]
    assert [r["knn_top1"] for r in again] == [r["knn_top1"] for r in runs]
    for arm in ("rgb_only", "motion_only"):
        out = tmp_path / f"eval_{arm}"
        # --no-cache: the features are recomputed, not read back from the demo's cache.
        assert main(["eval", "linear", "--checkpoint", str(tmp_path / f"{arm}_seed0"), "--dataset",
                     f"synth:{tmp_path / 'data'}", "--no-cache", "--no-progress", "--out", str(out)]) == 0
        rows = json.loads((out / "results.json").read_text())["results"]
        by_split = {r["split"]: r["top1"] for r in rows if r["protocol"] == "linear"}
        demo = {r["split"]: r["linear_top1"] for r in runs if r["method"] == arm}
        assert by_split == demo


def _rows(values):
    return [{"method": m, "split": s, "seed": seed, "linear_top1": lin, "knn_top1": lin}
            for (m, s, seed), lin in values.items()]


def test_validity_checks_use_the_documented_thresholds():
    runs = _rows({("supervised_unbiased", "test_unbiased", 0): 0.72, ("motion_only", "test_unbiased", 0): 0.61,
                  ("supervised", "test_biased", 0): 0.80, ("supervised", "test_unbiased", 0): 0.49})
    v = validity(runs)
    assert v["ceiling"] == 0.72 and v["teacher"] == 0.61
    assert math.isclose(v["shortcut_gap"], 0.31) and v["passed"] is True
    runs[1]["linear_top1"] = 0.59  # the teacher falls short
    assert validity(runs)["passed"] is False
    assert validity(runs[:1])["passed"] is None and validity(runs[:1])["teacher"] is None


def test_comparison_is_paired_by_seed():
    values = {}
    for seed, (m, r) in enumerate([(0.50, 0.40), (0.60, 0.40), (0.70, 0.50)]):
        values[("modist", "test_unbiased", seed)] = m
        values[("rgb_only", "test_unbiased", seed)] = r
    values[("modist", "test_unbiased", 9)] = 0.99  # no rgb_only partner: left out
    (row,) = comparisons(_rows(values))
    d = row["linear"]
    assert row["seeds"] == [0, 1, 2] and d["n"] == 3
    # differences 0.1, 0.2, 0.2: mean 1/6, sample std 0.0577, t(2) = 4.303
    assert math.isclose(d["mean"], 1 / 6)
    half = 4.303 * math.sqrt(1 / 300) / math.sqrt(3)
    assert math.isclose(d["ci95"][1] - d["mean"], half, rel_tol=1e-9)


def test_arm_overrides_touch_only_their_arm_and_yield_to_the_user(tmp_path):
    rgb = demo_config("rgb_only", tmp_path, data_dir=tmp_path / "data", seed=0, steps=10, device="cpu")
    assert resolve_weights(rgb) == LossWeights(vv=1.0, mm=0.0, vm=0.0, mv=0.0)
    xmodal = demo_config("modist_xmodal", tmp_path, data_dir=tmp_path / "data", seed=0, steps=10, device="cpu")
    assert resolve_weights(xmodal) == LossWeights(vv=0.0, mm=0.0, vm=1.0, mv=1.0)
    assert str(xmodal.train.out_dir).endswith("modist_xmodal_seed0")
    mine = demo_config("modist_xmodal", tmp_path, data_dir=tmp_path / "data", seed=0, steps=10, device="cpu",
                       overrides=["method.weight_vv=0.5"])
    assert resolve_weights(mine).vv == 0.5
    assert set(DEMO_METHODS) <= set(ARMS)


def test_unknown_arm_is_rejected_before_any_work(tmp_path):
    from modist.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown demo method 'mocov9'"):
        run_demo(tmp_path, methods=("mocov9",), progress=False, synth_config=TINY)
    assert not (tmp_path / "data").exists()


def test_detection_table_means_over_seeds_and_pairs_modist_with_rgb_only():
    from modist.demo.report import detection_table

    assert detection_table(_rows({("modist", "test_unbiased", 0): 0.5})) == ""
    runs = []
    for seed, (m, r) in enumerate([(0.30, 0.20), (0.32, 0.20), (0.34, 0.23)]):
        for method, value in (("modist", m), ("rgb_only", r)):
            runs.append({"method": method, "split": "test_unbiased", "seed": seed, "detection_map": value})
    runs.append({"method": "motion_only", "split": "test_unbiased", "seed": 0})  # no detection: not a row
    runs[0]["detection_finetune_map"] = 0.40  # modist seed 0 also finetuned: a column, no pair to compare
    text = detection_table(runs)
    assert "| method | frozen test_unbiased | finetuned test_unbiased | seeds |" in text
    assert "| modist | 32.0 ± 2.0 | 40.0 | 3 |" in text and "| rgb_only | 21.0 ± 1.7 | - | 3 |" in text
    # modist: mean 0.32, sample std 0.02; rgb_only: mean 0.21, std 0.0173
    assert "motion_only" not in text
    # differences 0.10, 0.12, 0.11: mean 0.11, std 0.01, t(2) = 4.303 -> half width 0.0248
    assert "+11.0 points (95 % CI [+8.5, +13.5])" in text


def test_study_arms_change_only_their_ablated_setting(tmp_path):
    from modist.demo import ARMS, STUDIES
    from modist.demo.run import demo_config

    assert all(arm in ARMS for arms in STUDIES.values() for arm in arms)

    def cfg(arm):
        return demo_config(arm, tmp_path, data_dir=tmp_path / "data", seed=0, steps=600, device="cpu")

    assert resolve_weights(cfg("modist_vv_vm")) == LossWeights(vv=1.0, mm=0.0, vm=1.0, mv=0.0)
    assert resolve_weights(cfg("modist_vv_mv")) == LossWeights(vv=1.0, mm=0.0, vm=0.0, mv=1.0)
    assert resolve_weights(cfg("modist_all4")) == LossWeights(vv=1.0, mm=1.0, vm=1.0, mv=1.0)
    assert cfg("modist_flow_edges").motion.encoding == "flow_edges" and cfg("modist").motion.encoding == "dxdy"
    assert cfg("rgb_only_2400").train.steps == 2400 and cfg("rgb_only").train.steps == 600
    teacher = cfg("motion_only_2400")
    assert (teacher.method.name, teacher.train.steps) == ("motion_only", 2400)


def test_length_study_report_compares_with_baseline_and_teacher_and_draws_curves(tmp_path):
    from modist.demo.report import write_results

    acc = {"modist": 0.40, "rgb_only": 0.14, "motion_only": 0.69,
           "modist_1200": 0.55, "rgb_only_1200": 0.16, "motion_only_1200": 0.70}
    runs = [{"method": m, "split": split, "seed": seed, "steps": 1200 if m.endswith("1200") else 600,
             "linear_top1": a + seed / 100, "knn_top1": a, "foreground_lift": 1.2 + seed / 10,
             "pointing_hit": 0.5}
            for m, a in acc.items() for seed in (0, 1, 2) for split in ("test_biased", "test_unbiased")]
    write_results(tmp_path, runs, {"chance": 0.1})
    saved = json.loads((tmp_path / "results.json").read_text())
    budget = {(r["method"], r["baseline"]): r["linear"]["mean"] for r in saved["matched_budget_comparisons"]}
    # seed offsets cancel in the paired differences
    assert budget == pytest.approx({("modist", "motion_only"): -0.29, ("modist_1200", "rgb_only_1200"): 0.39,
                                    ("modist_1200", "motion_only_1200"): -0.15})
    assert (tmp_path / "results_length.png").stat().st_size > 0
    assert "![training length](results_length.png)" in (tmp_path / "results.md").read_text()

    write_results(tmp_path / "default", [r for r in runs if not r["method"].endswith("1200")], {"chance": 0.1})
    assert not (tmp_path / "default" / "results_length.png").exists()
    assert json.loads((tmp_path / "default" / "results.json").read_text())["matched_budget_comparisons"] == []
