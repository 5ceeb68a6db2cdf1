"""``kill -9`` anywhere: a rerun with ``train.resume=auto`` continues from the last complete
checkpoint and ends with the weights of a run that was never interrupted.

A CPU pretraining process is killed several times on one run folder, at points drawn with a
fixed seed: during a step, while a checkpoint is half written, while the encoder is half
exported. To land inside a write, the child process wraps the writer so that it writes part
of the file, leaves a marker and waits to be killed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from modist.cli.main import main
from modist.models.run_files import find_latest_checkpoint, load_checkpoint

STEPS = 8

CHILD = """
import os, sys, time
from pathlib import Path
import torch
pause, marker = os.environ.get("PAUSE", ""), Path(os.environ["MARKER"])

def stall(path):
    Path(path).write_bytes(b"half a file")
    marker.write_text("stalled")
    time.sleep(120)

if pause.startswith("save:"):
    real_save, at = torch.save, int(pause[5:])
    def save(obj, f, *args, **kwargs):
        if isinstance(obj, dict) and obj.get("step") == at:
            stall(f)
        return real_save(obj, f, *args, **kwargs)
    torch.save = save
elif pause == "export":
    import modist.models.encoder_io as encoder_io
    encoder_io.save_file = lambda tensors, filename, *a, **k: stall(filename)
from modist.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def _args(data: Path, out: Path) -> list[str]:
    return ["pretrain", "--config", "demo", f"data.dataset=synth:{data}", f"train.out_dir={out}",
            f"train.steps={STEPS}", "train.checkpoint_every=2", "train.keep_checkpoints=1", "train.resume=auto",
            "train.log_every=1", "train.progress=false", "train.device=cpu", "train.threads=1",
            "method.name=rgb_only", "model.base_width=4", "data.clip_frames=4", "data.crop_size=32",
            "train.batch_size=4", "model.proj_hidden=32", "method.queue_size=16", "optim.warmup_steps=0"]


def _logged_steps(out: Path) -> list[int]:
    import json

    path = out / "metrics.jsonl"
    steps = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            steps.append(json.loads(line)["step"])
        except (ValueError, KeyError):
            pass
    return steps


def _kill_at(data: Path, out: Path, point: tuple[str, int], marker: Path) -> str:
    """Start a run, SIGKILL it at ``point``, return its stderr."""
    kind, at = point
    marker.unlink(missing_ok=True)
    before = _inode(out / "config.yaml")
    env = {**os.environ, "MARKER": str(marker), "PAUSE": {"save": f"save:{at}", "export": "export"}.get(kind, "")}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, *_args(data, out)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        # A killed run may have logged past its checkpoint: the step counts once this run has trimmed
        # the metrics, which it does before it rewrites config.yaml (a new file, so a new inode).
        while not (marker.exists() if kind in ("save", "export") else
                   _inode(out / "config.yaml") != before and at in _logged_steps(out)):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, f"{point} never came"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL
    return err


def _inode(path: Path) -> int:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return -1


def _complete(out: Path) -> int:
    """The step of the latest checkpoint; every checkpoint name present loads."""
    for path in out.glob("checkpoint*.pt"):
        load_checkpoint(path)
    latest = find_latest_checkpoint(out)
    return 0 if latest is None else int(load_checkpoint(latest)["step"])


def test_killed_anywhere_resumes_to_the_uninterrupted_weights(tiny_synth, tmp_path, capsys):
    from safetensors.torch import load_file

    assert main(_args(tiny_synth, tmp_path / "reference")) == 0
    capsys.readouterr()
    rng = random.Random(0)  # which step dies and which checkpoint is cut short
    first, save_at = rng.randint(1, 3), rng.choice([4, 6])
    points = [("step", first), ("save", save_at), ("step", rng.randint(save_at - 1, STEPS - 1)), ("export", 0)]
    out, marker = tmp_path / "run", tmp_path / "stalled"
    last_complete = 0
    for point in points:
        err = _kill_at(tiny_synth, out, point, marker)
        if last_complete:
            assert f"at step {last_complete} of {STEPS}" in err, (point, err)
        last_complete = _complete(out)
        if point[0] == "save":
            assert last_complete == point[1] - 2  # the half-written one never took a checkpoint's name
        assert not (out / "encoder.safetensors").exists()
    assert last_complete == STEPS  # killed in the export, after the final checkpoint
    code = main(_args(tiny_synth, out))
    captured = capsys.readouterr()
    assert code == 0 and f"at step {STEPS} of {STEPS}" in captured.err, captured.err
    assert "the run was at its last step (8) already; exported its encoder" in captured.out
    assert not list(out.glob(".*.tmp*"))  # the killed writers' temporary files are cleared
    assert _logged_steps(out) == list(range(1, STEPS + 1))

    expected, got = load_file(tmp_path / "reference" / "encoder.safetensors"), load_file(out / "encoder.safetensors")
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.allclose(expected[key].float(), got[key].float(), atol=1e-6), key

