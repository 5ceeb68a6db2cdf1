"""The demo's saliency columns: the table from result rows, and the numbers' code path."""

import pytest
import torch

from modist.demo.report import saliency_comparison_text, saliency_comparisons, saliency_table, saliency_validity
from modist.demo.run import saliency_figure, saliency_run
from modist.evaluation.encoder import load_eval_encoder
from modist.evaluation.saliency import saliency_eval

from test_evaluation_embed import tiny_checkpoint

torch.set_num_threads(1)


def test_saliency_table_is_mean_and_std_over_seeds_and_skips_rows_without_it():
    runs = [{"method": "modist", "split": "test_unbiased", "foreground_lift": 1.2, "pointing_hit": 0.3},
            {"method": "modist", "split": "test_unbiased", "foreground_lift": 1.0, "pointing_hit": 0.1},
            {"method": "modist", "split": "test_biased"},
            {"method": "rgb_only", "split": "test_unbiased", "foreground_lift": 0.9, "pointing_hit": 0.05}]
    table = saliency_table(runs)
    assert "| modist | 1.10 ± 0.14 | 20.0 ± 14.1 | 2 |" in table
    assert "| rgb_only | 0.90 | 5.0 | 1 |" in table  # one seed: no spread shown
    assert saliency_table([{"method": "modist", "split": "test_biased"}]) == ""


def test_demo_saliency_matches_eval_saliency(tiny_synth, tmp_path):
    ckpt = tiny_checkpoint(tmp_path)
    got = saliency_run(ckpt, tiny_synth, device="cpu")
    ref = saliency_eval(load_eval_encoder(ckpt), tiny_synth, map_kind="gradient", max_videos=100, progress=False)
    assert got["foreground_lift"] == pytest.approx(sum(ref.lift) / len(ref.lift))
    assert got["pointing_hit"] == pytest.approx(sum(ref.pointing) / len(ref.pointing))


def _row(method, lifts, **extra):
    return {"method": method, "split": "test_unbiased", "foreground_lift_videos": lifts, **extra}


def test_saliency_checks_pass_and_fail_on_their_documented_thresholds():
    ceiling = [1.6, 1.7, 1.8, 1.7, 1.6, 1.8]
    runs = [_row("supervised_unbiased", ceiling, random_init_foreground_lift_videos=[1.0, 1.1, 1.2, 1.1]),
            _row("supervised", [1.2, 1.3, 1.2, 1.3])]
    v = saliency_validity(runs)
    assert v["saliency_ceiling"]["lift"] == pytest.approx(1.7) and v["saliency_ceiling"]["passed"] is True
    assert v["saliency_shortcut"]["margin"] == pytest.approx(0.45) and v["saliency_shortcut"]["passed"] is True
    assert v["saliency_learned"]["margin"] == pytest.approx(0.6) and v["saliency_passed"] is True
    # A ceiling under 1.5 fails its own check and so the set.
    low = [_row("supervised_unbiased", [x - 0.3 for x in ceiling], random_init_foreground_lift_videos=[1.0]),
           runs[1]]
    lv = saliency_validity(low)
    assert lv["saliency_ceiling"]["passed"] is False and lv["saliency_passed"] is False
    # A margin of 0.2 or more whose intervals overlap fails: a wide spread of the scene-trained arm.
    wide = [runs[0], _row("supervised", [0.5, 2.3, 0.6, 2.2])]
    w = saliency_validity(wide)["saliency_shortcut"]
    assert w["margin"] >= 0.2 and w["intervals_apart"] is False and w["passed"] is False
    # Random init within 0.2 of the ceiling fails the learned check.
    near = [_row("supervised_unbiased", ceiling, random_init_foreground_lift_videos=[1.6, 1.6]), runs[1]]
    assert saliency_validity(near)["saliency_learned"]["passed"] is False
    # Seeds pool their videos; a missing arm leaves the set undecided.
    two = saliency_validity([*runs, _row("supervised_unbiased", [1.7, 1.7])])["saliency_ceiling"]
    assert two["videos"] == 8
    one = saliency_validity(runs[:1])
    assert one["saliency_passed"] is None and one["saliency_shortcut"]["passed"] is None


def test_saliency_comparison_is_paired_by_seed():
    runs = [{"method": m, "split": "test_unbiased", "seed": s, "foreground_lift": lift, "pointing_hit": hit}
            for m, s, lift, hit in [("modist", 0, 1.6, 0.5), ("modist", 1, 1.8, 0.6),
                                    ("rgb_only", 0, 1.5, 0.5), ("rgb_only", 1, 1.5, 0.4)]]
    (row,) = saliency_comparisons(runs)
    assert row["foreground_lift"]["mean"] == pytest.approx(0.2) and row["seeds"] == [0, 1]
    # two seeds, differences 0.1 and 0.3: std 0.1414, t(1) = 12.706
    half = 12.706 * 0.1414214 / 2 ** 0.5
    assert row["foreground_lift"]["ci95"] == pytest.approx([0.2 - half, 0.2 + half], abs=1e-3)
    assert row["pointing_hit"]["mean"] == pytest.approx(0.1)
    assert "modist - rgb_only saliency on test_unbiased, paired by seed (n=2): foreground lift +0.20" in \
        saliency_comparison_text([row])


def test_saliency_figure_is_written_for_every_arm(tiny_synth, tmp_path):
    tiny_checkpoint(tmp_path / "a_seed0")
    path = saliency_figure(tmp_path, tiny_synth, ("a",), seed=0, device="cpu", videos=2)
    assert path == tmp_path / "saliency.png"
    from PIL import Image

    width, height = Image.open(path).size
    assert width > height > 100  # two rows: frame | mask | one arm, and the colour bar
