import json

import pytest
import torch

from modist.config import load_config
from modist.configs import config_path
from modist.data.adapters import resolve_dataset
from modist.data.records import VideoDataset
from modist.errors import DataError
from modist.models.run_files import load_checkpoint, numbered_checkpoints
from modist.training.trainer import pretrain

from conftest import tiny_overrides


class Killed(Exception):
    pass


@pytest.fixture(scope="module")
def forty(tiny_synth):
    """40 training videos whatever the fixture holds: 5 batches of 8 an epoch."""
    full = resolve_dataset(f"synth:{tiny_synth}", split="train")
    return VideoDataset(full.records[:40], full.class_names)


def _cfg(data, out, steps=8, *extra):
    return load_config(config_path("demo"), tiny_overrides(data, out, steps=steps) + [
        "model.base_width=4", "data.clip_frames=4", "train.threads=1", "train.checkpoint_every=3",
        "train.keep_checkpoints=1", *extra])


def _kill_at(step_to_die: int):
    def hook(step, record):
        if step == step_to_die:
            raise Killed(step)
    return hook


def _losses(history, after):
    return {h["step"]: h["loss"] for h in history if h["step"] > after}


@pytest.mark.parametrize("extra", [
    (),
    # Loader workers, gradient accumulation and the within-process shuffle-BN all draw randomness.
    ("data.num_workers=1", "train.accumulate=2", "train.batch_size=4"),
], ids=["plain", "workers+accumulate"])
def test_run_killed_mid_epoch_resumes_with_the_uninterrupted_losses(tiny_synth, forty, tmp_path, extra):
    # 40 videos in batches of 8: 5 batches an epoch, so the checkpoint at step 6 is mid-epoch 2.
    full = pretrain(_cfg(tiny_synth, tmp_path / "full", 8, *extra), dataset=forty)
    with pytest.raises(Killed):
        pretrain(_cfg(tiny_synth, tmp_path / "run", 8, *extra), dataset=forty, on_step=_kill_at(7))
    assert [s for s, _ in numbered_checkpoints(tmp_path / "run")] == [6]  # keep_checkpoints=1 pruned step 3

    resumed = pretrain(_cfg(tiny_synth, tmp_path / "run", 8, "train.resume=auto", *extra), dataset=forty)
    assert resumed.start_step == 6
    expected, got = _losses(full.history, 6), _losses(resumed.history, 6)
    assert sorted(got) == [7, 8]
    # CPU kernels are deterministic here, so the continuation matches to rounding.
    for step in expected:
        assert got[step] == pytest.approx(expected[step], abs=1e-5), step
    # The killed run logged step 7 before dying; the resumed log holds each step once.
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == list(range(1, 9))
    assert [h["step"] for h in resumed.history] == list(range(1, 9))

    a, b = full.method.state_dict(), resumed.method.state_dict()
    for key in a:  # networks, key encoders and queues end where the uninterrupted run ends
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-5), key
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"] == 8


def test_resume_from_an_explicit_path_and_mismatched_networks(tiny_synth, tmp_path):
    with pytest.raises(Killed):
        pretrain(_cfg(tiny_synth, tmp_path / "a", 6), on_step=_kill_at(4))
    ckpt = tmp_path / "a" / "checkpoint-0000003.pt"
    resumed = pretrain(_cfg(tiny_synth, tmp_path / "b", 4, f"train.resume={ckpt}"))
    assert resumed.start_step == 3 and [h["step"] for h in resumed.history] == [4]
    with pytest.raises(DataError, match="model.base_width"):
        pretrain(_cfg(tiny_synth, tmp_path / "c", 6, f"train.resume={ckpt}", "model.base_width=8"))
    with pytest.raises(DataError, match="not found"):
        pretrain(_cfg(tiny_synth, tmp_path / "d", 6, f"train.resume={tmp_path / 'nope.pt'}"))


def test_a_fresh_run_refuses_a_used_folder_unless_told_to_overwrite(tiny_synth, tmp_path):
    out = tmp_path / "run"
    first = pretrain(_cfg(tiny_synth, out, 4, "train.resume=auto"))
    assert first.start_step == 0 and first.steps_run == 4
    assert [s for s, _ in numbered_checkpoints(out)] == [3, 4][-1:]  # keep 1
    with pytest.raises(DataError, match="holds another run.*train.overwrite=true"):
        pretrain(_cfg(tiny_synth, out, 2, "train.resume=never"))
    assert [s for s, _ in numbered_checkpoints(out)] == [4]  # untouched
    again = pretrain(_cfg(tiny_synth, out, 4, "train.resume=auto"))  # a finished run: nothing left to do
    assert again.start_step == 4 and again.steps_run == 0 and again.resumed_from.name == "checkpoint-0000004.pt"
    with pytest.raises(DataError, match="past train.steps=2"):
        pretrain(_cfg(tiny_synth, out, 2, "train.resume=auto"))
    second = pretrain(_cfg(tiny_synth, out, 2, "train.keep_checkpoints=0", "train.overwrite=true"))
    assert second.start_step == 0
    assert [s for s, _ in numbered_checkpoints(out)] == [2]
