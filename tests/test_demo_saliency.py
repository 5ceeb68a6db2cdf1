"""The demo's saliency columns: the table from result rows, and the numbers' code path."""

import pytest
import torch

from modist.demo.report import saliency_table
from modist.demo.run import saliency_run
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
