"""Watching a run: metrics.jsonl fields and flushing, curves.png during the run and at an interrupt,
TensorBoard / W&B scalars, the line for a missing logger package, and what ``modist pretrain``
says when a run is interrupted, rerun after it finished, or given too few videos."""

import json
import math
import shlex
import sys
import threading
import time
import types

import pytest

import modist.training.run_dir as run_dir_module
import modist.training.trainer as trainer
from modist.cli.main import main
from modist.config import load_config
from modist.configs import config_path
from modist.errors import ConfigError
from modist.training.batches import BatchStream
from modist.training.loggers import open_logger, require_logger
from modist.training.trainer import pretrain, too_few_videos

from conftest import tiny_overrides

SMALL = ["model.base_width=4", "data.clip_frames=4", "train.threads=1", "data.frame_cache=0"]


def _overrides(data, out, steps, *extra):
    return [*tiny_overrides(data, out, "rgb_only", steps), *SMALL, *extra]


def _cfg(data, out, steps, *extra):
    return load_config(config_path("demo"), _overrides(data, out, steps, *extra))


def _records(out):
    path = out / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def _wait_for(path, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not path.is_file():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.stat().st_mtime_ns


def test_metrics_hold_time_throughput_data_wait_and_lr_flushed_every_log_every(tiny_synth, tmp_path, monkeypatch):
    out = tmp_path / "run"
    real = BatchStream._next_readable

    def slow_loader(self):  # every batch waits 50 ms for "the loader"
        time.sleep(0.05)
        return real(self)

    monkeypatch.setattr(BatchStream, "_next_readable", slow_loader)
    on_disk = {}
    result = pretrain(_cfg(tiny_synth, out, 3, "train.log_every=2"),
                      on_step=lambda step, record: on_disk.setdefault(step, len(_records(out))))
    assert on_disk == {1: 0, 2: 2, 3: 3}  # flushed at step 2 (log_every) and at the last step
    records = _records(out)
    assert records == result.history
    one, two, three = records
    for r in records:
        assert {"step", "loss", "lr", "loss_vv", "elapsed_s", "clips_per_s", "data_wait_s"} <= r.keys()
    assert 0 < one["elapsed_s"] < two["elapsed_s"] < three["elapsed_s"]
    # Warm-up 0, cosine over 3 steps from optim.lr 0.002: the rate each step used.
    assert [r["lr"] for r in records] == pytest.approx([0.002, 0.002 * 0.75, 0.002 * 0.25])
    # The window is the last log_every (2) steps: from the loop's start at step 2, from step 1 at step 3.
    assert two["clips_per_s"] == pytest.approx(2 * 8 / two["elapsed_s"], rel=0.02)
    assert three["clips_per_s"] == pytest.approx(2 * 8 / (three["elapsed_s"] - one["elapsed_s"]), rel=0.02)
    # Two batches drawn in each window, each after 50 ms in the loader, and never more than the window.
    assert 0.1 <= two["data_wait_s"] <= two["elapsed_s"]
    assert 0.1 <= three["data_wait_s"] <= three["elapsed_s"] - one["elapsed_s"] + 0.002
    assert 0.05 <= one["data_wait_s"] <= one["elapsed_s"]


def test_curves_are_redrawn_at_checkpoints_and_drawn_again_when_interrupted(tiny_synth, tmp_path, monkeypatch):
    out = tmp_path / "run"
    drawn = {}
    drawings = []  # (steps drawn, in the main thread?)
    real_plot = run_dir_module.plot_training_curves

    def plot(history, *args, **kwargs):
        drawings.append(([h["step"] for h in history], threading.current_thread() is threading.main_thread()))
        real_plot(history, *args, **kwargs)

    monkeypatch.setattr(run_dir_module, "plot_training_curves", plot)

    def on_step(step, record):
        if step == 1:  # after the checkpoint of step 1, before the run ends
            drawn[1] = _wait_for(out / "curves.png")
        if step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pretrain(_cfg(tiny_synth, out, 5, "train.checkpoint_every=1", "train.log_every=100"), on_step=on_step)
    assert (out / "curves.png").stat().st_mtime_ns > drawn[1]
    assert drawings[0] == ([1], False)  # at the checkpoint of step 1, in the background
    assert drawings[-1] == ([1, 2], True)  # on the way out of the interrupted loop
    assert [r["step"] for r in _records(out)] == [1, 2]  # flushed on the way out, though log_every is 100
    assert not (out / "encoder.safetensors").exists()
    assert not list(out.glob(".*.tmp*"))  # no drawing left half done


def test_curves_are_redrawn_every_few_log_intervals_without_checkpoints(tiny_synth, tmp_path, monkeypatch):
    monkeypatch.setattr(run_dir_module, "CURVES_EVERY_LOGS", 2)
    out = tmp_path / "run"
    seen = []

    def on_step(step, record):
        if step == 2:
            seen.append(_wait_for(out / "curves.png"))

    pretrain(_cfg(tiny_synth, out, 3, "train.log_every=1", "train.checkpoint_every=0"), on_step=on_step)
    assert seen


def test_tensorboard_gets_every_scalar_at_every_step(tiny_synth, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    pretrain(_cfg(tiny_synth, out, 3, "train.logger=tensorboard", "train.log_every=2"))
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    records = _records(out)
    for key in ("loss", "loss_vv", "lr", "elapsed_s", "clips_per_s", "data_wait_s"):
        scalars = events.Scalars(key)
        assert [s.step for s in scalars] == [1, 2, 3], key
        assert [s.value for s in scalars] == pytest.approx([r[key] for r in records], rel=1e-6), key


def test_wandb_is_offline_unless_the_user_chose_a_mode(tmp_path, monkeypatch):
    inits, logged = [], []

    class FakeRun:
        def log(self, scalars, step):
            logged.append((step, scalars))

        def finish(self):
            logged.append("finished")

    fake = types.ModuleType("wandb")
    fake.init = lambda **kwargs: inits.append(kwargs) or FakeRun()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    logger = open_logger("wandb", tmp_path, config={"train": {"steps": 2}}, start_step=0)
    logger.log(1, {"loss": 2.0})
    logger.close()
    assert inits[0]["mode"] == "offline" and inits[0]["dir"] == str(tmp_path)
    assert inits[0]["config"] == {"train": {"steps": 2}}
    assert logged == [(1, {"loss": 2.0}), "finished"]
    monkeypatch.setenv("WANDB_MODE", "online")
    open_logger("wandb", tmp_path, config={}, start_step=0)
    assert "mode" not in inits[1]  # wandb reads WANDB_MODE itself


@pytest.mark.parametrize("logger", ["tensorboard", "wandb"])
def test_a_missing_logger_package_is_one_line_before_anything_is_written(logger, tiny_synth, tmp_path, monkeypatch,
                                                                         capsys):
    monkeypatch.setitem(sys.modules, logger, None)  # what `import X` meets when X is not installed
    with pytest.raises(ConfigError):
        require_logger(logger)
    out = tmp_path / "run"
    code = main(["pretrain", "--config", "demo", *_overrides(tiny_synth, out, 3, f"train.logger={logger}")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == (f"modist: error: train.logger={logger} needs the {logger} package, "
                                            f"which is not installed: pip install 'modist[{logger}]'")
    assert not out.exists()


def test_ctrl_c_names_the_kept_checkpoint_and_the_command_that_resumes(tiny_synth, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run dir"  # a space: the printed command must quote it
    real = trainer.pretrain

    def interrupted_at_step_2(cfg, **kwargs):
        def hook(step, record):
            if step == 2:
                raise KeyboardInterrupt
        return real(cfg, on_step=hook, **kwargs)

    monkeypatch.setattr(trainer, "pretrain", interrupted_at_step_2)
    given = [*_overrides(tiny_synth, out, 4, "train.checkpoint_every=1"), "train.resume=never"]
    code = main(["pretrain", "--overwrite", "--config", "demo", *given])
    lines = capsys.readouterr().err.splitlines()
    assert code == 130 and lines[-1] == "modist: interrupted"
    kept = lines.index(f"modist: kept {out / 'checkpoint-0000002.pt'} (step 2 of 4); continue with:")
    command = lines[kept + 1].strip()
    # The same command without --overwrite and train.resume=never; the demo recipe already resumes.
    assert command == shlex.join(["modist", "pretrain", "--config", "demo", *given[:-1]])
    assert load_config(config_path("demo"), given[:-1]).train.resume == "auto"

    monkeypatch.setattr(trainer, "pretrain", real)
    code = main(shlex.split(command)[1:])
    assert code == 0 and "for 2 steps (steps 3-4, resumed at step 2)" in capsys.readouterr().out
    assert [r["step"] for r in _records(out)] == [1, 2, 3, 4]

    before = {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in out.iterdir() if p.name != ".lock"}
    code = main(shlex.split(command)[1:])
    captured = capsys.readouterr()
    assert code == 0 and captured.out.splitlines() == [
        f"{out}: already complete at step 4 (train.steps=4); its outputs are left as they are "
        "(raise train.steps to train on, or --overwrite to start again)"]
    assert "resuming" not in captured.err
    assert {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in out.iterdir() if p.name != ".lock"} == before


def test_the_resume_command_sets_train_resume_auto_and_drops_overwriting():
    import argparse

    from modist.cli.pretrain import resume_command

    args = argparse.Namespace(config=None, overwrite=True,
                              overrides=["train.steps=9", "train.overwrite=true", "train.resume=never"])
    assert resume_command(args, has_checkpoint=True) == "modist pretrain train.steps=9 train.resume=auto"
    # Branched off another run's checkpoint and stopped before a checkpoint of its own: start from it again.
    args.overrides = ["train.resume=/runs/a/checkpoint-0000010.pt"]
    assert resume_command(args, has_checkpoint=False) == "modist pretrain train.resume=/runs/a/checkpoint-0000010.pt"
    assert resume_command(args, has_checkpoint=True) == "modist pretrain train.resume=auto"


@pytest.mark.parametrize(("videos", "processes", "clips_per_video", "fits"), [
    (10, 1, 1, "train.batch_size=10 fits"),
    (10, 2, 1, "train.batch_size=5 fits"),
    (10, 1, 4, "train.batch_size=8 fits"),  # a multiple of data.clips_per_video
    (1, 1, 1, "training needs at least 2 videos"),
])
def test_too_few_videos_names_train_batch_size_and_a_value_that_fits(videos, processes, clips_per_video, fits):
    cfg = load_config(None, ["train.batch_size=32", f"data.clips_per_video={clips_per_video}"])
    text = too_few_videos(cfg, videos, processes)
    assert f"has {videos} videos, fewer than train.batch_size=32 x {processes} process(es)" in text
    assert text.endswith(fits)


def test_too_few_videos_from_the_command_line(tiny_synth, tmp_path, capsys):
    code = main(["pretrain", "--config", "demo", *_overrides(tiny_synth, tmp_path / "run", 3, "train.batch_size=64")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines()[-1].endswith("fewer than train.batch_size=64 x 1 process(es); "
                                                  "train.batch_size=40 fits")


def test_the_logged_learning_rate_follows_the_schedule_from_a_resumed_step(tiny_synth, tmp_path):
    out = tmp_path / "run"

    def stop_at_3(step, record):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pretrain(_cfg(tiny_synth, out, 4, "train.checkpoint_every=2"), on_step=stop_at_3)
    resumed = pretrain(_cfg(tiny_synth, out, 4, "train.resume=auto"))
    lrs = [r["lr"] for r in resumed.history]
    assert lrs == pytest.approx([0.002 * 0.5 * (1 + math.cos(math.pi * s / 4)) for s in range(4)])
