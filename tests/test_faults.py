"""The fault matrix: every command against every kind of bad input that applies to it.

Each fault ends within seconds with exit status 2 and one line ``modist: error: ...`` naming
the file or key (130 for Ctrl-C, 143 for SIGTERM), no traceback, and no output that looks
complete. Where some of the data is readable the command goes on and reports the distinct
unreadable files once each. Commands run in-process through ``modist.cli.main.main``; only
the signal tests start a process.

Documented exceptions to "exit 2": ``modist data check`` exits 1 when it finds unreadable files
(finding them is its job) and ``modist flow DATASET`` exits 1 when some videos failed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modist.cli.main import main

TINY = ["model.base_width=4", "data.clip_frames=4", "data.crop_size=32", "train.batch_size=4",
        "train.progress=false", "train.device=cpu", "model.proj_hidden=32", "method.queue_size=16",
        "method.name=rgb_only", "train.threads=1", "optim.warmup_steps=0"]


def _cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_line_error(code: int, err: str, *needles: str) -> str:
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("modist: error:")]
    assert code == 2 and len(errors) == 1, (code, err)
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def _pretrain_args(dataset: str, out: Path, *extra: str) -> list[str]:
    return ["pretrain", "--config", "demo", f"data.dataset={dataset}", f"train.out_dir={out}", *TINY, *extra]


# -- data ------------------------------------------------------------------------------------

def _break(path: Path, how: int) -> None:
    if how == 0:
        path.write_bytes(b"")  # zero bytes
    elif how == 1:
        path.write_text("this is not a video\n")  # text under a video name
    else:
        path.write_bytes(path.read_bytes()[:300])  # truncated mid-header


@pytest.fixture(scope="module")
def folders(tiny_synth, tmp_path_factory) -> dict[str, Path]:
    """Plain folders of 10 videos: all readable, none readable, 3 of 10 unreadable; an empty one."""
    root = tmp_path_factory.mktemp("faults")
    videos = sorted((tiny_synth / "videos" / "train").glob("*.mp4"))[:10]
    out = {"missing": root / "nowhere", "empty": root / "empty"}
    out["empty"].mkdir()
    for name, bad in (("good", 0), ("allbad", 10), ("somebad", 3)):
        folder = out[name] = root / name
        folder.mkdir()
        for i, video in enumerate(videos):
            shutil.copy(video, folder / video.name)
            if i < bad:
                _break(folder / video.name, i % 3)
    return out


@pytest.fixture(scope="module")
def run(tiny_synth, tmp_path_factory) -> Path:
    """A finished 2-step run with a checkpoint at every step."""
    out = tmp_path_factory.mktemp("run") / "run"
    assert main(_pretrain_args(f"synth:{tiny_synth}", out, "train.steps=2", "train.checkpoint_every=1",
                               "train.keep_checkpoints=0")) == 0
    return out


def _data_commands(spec: str, tmp: Path, run: Path) -> dict[str, list[str]]:
    return {
        "pretrain": _pretrain_args(spec, tmp / "p", "train.steps=4"),
        "embed": ["embed", "--checkpoint", run, "--input", spec, "--out", tmp / "e.npz", "--no-progress",
                  "--num-clips", "1"],
        "flow": ["flow", spec, "--out", tmp / "flow", "--preset", "ultrafast"],
        "data check": ["data", "check", spec, "--quiet"],
        "bench data": ["bench", "data", "--dataset", spec, "--samples", "4", "--batch-size", "2", "--no-floor"],
    }


DATA_COMMANDS = ["pretrain", "embed", "flow", "data check", "bench data"]


@pytest.mark.parametrize("command", DATA_COMMANDS)
@pytest.mark.parametrize("fault", ["missing", "empty", "allbad"])
def test_unusable_data_is_one_line_naming_the_folder(command, fault, folders, run, tmp_path, capsys):
    spec = f"folder:{folders[fault]}"
    start = time.perf_counter()
    code, out, err = _cli(_data_commands(spec, tmp_path, run)[command], capsys)
    assert time.perf_counter() - start < 30
    if command == "data check" and fault == "allbad":
        assert code == 1 and out.count("unreadable: ") == 10 and "Traceback" not in err
        return
    _one_line_error(code, err, str(folders[fault]))
    for name in ("e.npz", "p/encoder.safetensors", "p/checkpoint.pt", "flow/index.json"):
        assert not (tmp_path / name).exists(), name


@pytest.mark.parametrize("command", DATA_COMMANDS)
def test_some_unreadable_files_are_counted_once_each(command, folders, run, tmp_path, capsys):
    args = _data_commands(f"folder:{folders['somebad']}", tmp_path, run)[command]
    if command == "pretrain":
        args += ["train.steps=6", "data.num_workers=1"]  # the unreadable paths travel from the worker with the batch
    code, out, err = _cli(args, capsys)
    assert "Traceback" not in err and "error" not in err
    broken = sorted(p for p in folders["somebad"].iterdir() if p.read_bytes()[:4] in (b"", b"this") or
                    p.stat().st_size == 300)
    assert len(broken) == 3
    if command == "pretrain":
        # 6 steps of 4 out of 10 videos: more than an epoch, so every file is drawn and some twice.
        assert code == 0 and "skipped 3 unreadable video file(s)" in out, out
        assert err.count("3 unreadable video file(s) were skipped") == 1
    elif command == "embed":
        assert code == 0 and "skipped 3 unreadable" in out
        assert all(out.count(f"skipped: {p}") == 1 for p in broken), out
    elif command == "flow":
        assert code == 1 and out.count("flow: failed:") == 3
    elif command == "data check":
        assert code == 1 and all(out.count(f"unreadable: {p}") == 1 for p in broken), out
    else:
        assert code == 0


def test_eval_on_missing_empty_and_partly_unreadable_data(tiny_synth, run, tmp_path, capsys):
    args = ["eval", "linear", "--checkpoint", run, "--epochs", "2", "--temporal-views", "1", "--no-progress",
            "--out", tmp_path / "eval"]
    for folder in (tmp_path / "nowhere", tmp_path):
        code, _, err = _cli([*args, "--dataset", f"synth:{folder}"], capsys)
        _one_line_error(code, err, str(folder))
    assert not (tmp_path / "eval" / "results.json").exists()
    data = tmp_path / "synth"
    shutil.copytree(tiny_synth, data)
    for i, video in enumerate(sorted((data / "videos").rglob("*.mp4"))[::9]):
        _break(video, i % 3)
    code, out, err = _cli([*args, "--dataset", f"synth:{data}"], capsys)
    assert code == 0 and "Traceback" not in err and "skipped" in out


@pytest.mark.parametrize("how", ["missing", "zero-byte", "text", "truncated"])
def test_flow_visualize_of_a_bad_video_is_one_line_naming_it(how, folders, tmp_path, capsys):
    video = tmp_path / "clip.mp4"
    if how != "missing":
        shutil.copy(next(folders["good"].iterdir()), video)
        _break(video, ["zero-byte", "text", "truncated"].index(how))
    code, _, err = _cli(["flow", "--visualize", video, "--out", tmp_path / "flow.gif"], capsys)
    _one_line_error(code, err, str(video))
    assert not (tmp_path / "flow.gif").exists()


def test_synth_like_a_missing_or_empty_folder_is_one_line(tmp_path, capsys):
    for like in (tmp_path / "nowhere", tmp_path):
        code, _, err = _cli(["synth", "--like", like, "--out", tmp_path / "new"], capsys)
        _one_line_error(code, err, str(like))
    assert not (tmp_path / "new").exists()


# -- checkpoints -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bad_checkpoints(run, tmp_path_factory) -> dict[str, Path]:
    """Every kind of checkpoint that is not one, each in its own folder."""
    root = tmp_path_factory.mktemp("ckpts")
    out: dict[str, Path] = {"missing": root / "nowhere.safetensors", "empty folder": root / "empty"}
    out["empty folder"].mkdir()

    def encoder_copy(name: str) -> Path:
        folder = root / name
        folder.mkdir()
        for f in ("encoder.safetensors", "encoder.json"):
            shutil.copy(run / f, folder / f)
        return folder / "encoder.safetensors"

    p = out["truncated safetensors"] = encoder_copy("truncated")
    p.write_bytes(p.read_bytes()[:100])
    p = out["zero-byte safetensors"] = encoder_copy("zero")
    p.write_bytes(b"")
    p = out["text as safetensors"] = encoder_copy("text")
    p.write_text("hello")
    p = out["another architecture"] = encoder_copy("arch")
    meta = p.with_name("encoder.json")
    meta.write_text(meta.read_text().replace('"base_width": 4', '"base_width": 8'))
    import torch
    from safetensors.torch import save_file

    p = out["foreign safetensors"] = encoder_copy("foreign")
    save_file({"w": torch.zeros(3)}, str(p))
    out["truncated .pt"] = root / "cut" / "checkpoint.pt"
    out["truncated .pt"].parent.mkdir()
    out["truncated .pt"].write_bytes((run / "checkpoint.pt").read_bytes()[:500])
    out["random pickle .pt"] = root / "pickle" / "checkpoint-0000001.pt"
    out["random pickle .pt"].parent.mkdir()
    out["random pickle .pt"].write_bytes(pickle.dumps({"hello": [1, 2, 3]}))
    out["tensor dict .pt"] = root / "tensors" / "checkpoint.pt"
    out["tensor dict .pt"].parent.mkdir()
    torch.save({"step": 3, "weights": torch.zeros(2)}, out["tensor dict .pt"])
    out["folder of runs"] = root / "runs"
    for name in ("a", "b"):
        shutil.copytree(run, root / "runs" / name)
    return out


CHECKPOINT_FAULTS = ["missing", "empty folder", "truncated safetensors", "zero-byte safetensors",
                     "text as safetensors", "another architecture", "foreign safetensors", "truncated .pt",
                     "random pickle .pt", "tensor dict .pt", "folder of runs"]


@pytest.mark.parametrize("command", ["embed", "eval linear", "export"])
@pytest.mark.parametrize("fault", CHECKPOINT_FAULTS)
def test_bad_checkpoints_are_one_line_naming_the_file(command, fault, bad_checkpoints, tiny_synth, tmp_path,
                                                      capsys):
    ckpt = bad_checkpoints[fault]
    if command == "export" and fault.endswith("safetensors") and fault != "missing":
        ckpt = ckpt.parent  # export reads training checkpoints: a folder with only an encoder has none
    args = {
        "embed": ["embed", "--checkpoint", ckpt, "--input", f"synth:{tiny_synth}", "--out", tmp_path / "e.npz",
                  "--no-progress"],
        "eval linear": ["eval", "linear", "--checkpoint", ckpt, "--dataset", f"synth:{tiny_synth}",
                        "--out", tmp_path / "eval", "--no-progress"],
        "export": ["export", ckpt, "--out", tmp_path / "exported"],
    }[command]
    start = time.perf_counter()
    code, _, err = _cli(args, capsys)
    assert time.perf_counter() - start < 20
    line = _one_line_error(code, err, str(ckpt))
    if fault == "folder of runs":
        assert "a, b" in line
    assert not any((tmp_path / name).exists() for name in ("e.npz", "eval/results.json",
                                                           "exported/encoder.safetensors"))


@pytest.mark.parametrize("given", ["run folder", "encoder file", "checkpoint.pt", "numbered checkpoint"])
def test_checkpoint_flag_takes_a_run_an_encoder_or_a_training_checkpoint(given, run, tiny_synth, tmp_path, capsys):
    ckpt = {"run folder": run, "encoder file": run / "encoder.safetensors", "checkpoint.pt": run / "checkpoint.pt",
            "numbered checkpoint": run / "checkpoint-0000001.pt"}[given]
    code, out, err = _cli(["embed", "--checkpoint", ckpt, "--input", f"synth:{tiny_synth}", "--out",
                           tmp_path / "e.npz", "--no-progress", "--num-clips", "1"], capsys)
    assert code == 0 and "Traceback" not in err, err
    assert "embedded 40 video(s)" in out


def test_export_writes_the_encoder_of_any_checkpoint(run, tmp_path, capsys):
    from safetensors.torch import load_file

    code, out, _ = _cli(["export", run, "--step", "2", "--out", tmp_path / "two"], capsys)
    assert code == 0 and "step 2" in out
    final, exported = load_file(run / "encoder.safetensors"), load_file(tmp_path / "two" / "encoder.safetensors")
    assert final.keys() == exported.keys() and all((final[k] == exported[k]).all() for k in final)
    code, out, _ = _cli(["export", run, "--step", "1"], capsys)
    assert code == 0 and (run / "export-0000001" / "encoder.json").is_file()
    code, _, err = _cli(["export", run, "--step", "7"], capsys)
    _one_line_error(code, err, "checkpoint-0000007.pt", "checkpoint-0000001.pt")


# -- recipes and output ----------------------------------------------------------------------

def test_unknown_recipe_is_one_line_naming_it(tmp_path, capsys):
    for args in (["pretrain", "--config", "no_such_recipe"],
                 ["bench", "data", "--config", "no_such_recipe"],
                 ["demo", "--out", tmp_path / "d", "--methods", "no_such_arm"],
                 ["demo", "--out", tmp_path / "d", "--quick", "method.no_such_key=1"]):
        code, _, err = _cli(args, capsys)
        _one_line_error(code, err, "no_such_")


@pytest.fixture
def read_only(tmp_path) -> Path:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root writes anyway
        folder.chmod(0o755)
        pytest.skip("running as root: a read-only folder stays writable")
    yield folder
    folder.chmod(0o755)


def _output_commands(out: Path, run: Path, tiny_synth: Path) -> dict[str, list]:
    return {
        "pretrain": _pretrain_args(f"synth:{tiny_synth}", out / "run", "train.steps=1"),
        "embed": ["embed", "--checkpoint", run, "--input", f"synth:{tiny_synth}", "--out", out / "e.npz",
                  "--no-progress", "--num-clips", "1"],
        "export": ["export", run, "--out", out / "exported"],
        "synth": ["synth", "--out", out / "synth", "--train-per-class", "1", "--test-per-class", "1",
                  "--num-frames", "8", "--workers", "1"],
        "data check": ["data", "check", f"synth:{tiny_synth}", "--quiet", "--json", out / "report.json"],
    }


OUTPUT_COMMANDS = ["pretrain", "embed", "export", "synth", "data check"]


@pytest.mark.parametrize("command", OUTPUT_COMMANDS)
def test_read_only_output_folder_is_one_line(command, read_only, run, tiny_synth, capsys):
    code, _, err = _cli(_output_commands(read_only, run, tiny_synth)[command], capsys)
    _one_line_error(code, err, str(read_only))
    assert list(read_only.iterdir()) == []


@pytest.mark.parametrize("command", OUTPUT_COMMANDS)
def test_full_disk_is_one_line_and_leaves_no_complete_looking_output(command, run, tiny_synth, tmp_path,
                                                                      monkeypatch, capsys):
    import modist.atomic

    @contextlib.contextmanager
    def full(path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        yield  # pragma: no cover

    monkeypatch.setattr(modist.atomic, "atomic_path", full)
    for module in list(sys.modules.values()):  # modules that imported the writer by name
        if getattr(module, "__name__", "").startswith("modist.") and hasattr(module, "atomic_path"):
            monkeypatch.setattr(module, "atomic_path", full)
    out = tmp_path / "out"
    code, _, err = _cli(_output_commands(out, run, tiny_synth)[command], capsys)
    _one_line_error(code, err, "No space left on device", str(out))
    for name in ("run/encoder.safetensors", "run/checkpoint.pt", "e.npz", "exported/encoder.safetensors",
                 "synth/info.json", "report.json"):
        assert not (out / name).exists(), name


# -- the run folder ---------------------------------------------------------------------------

def test_a_used_run_folder_is_refused_then_resumed_or_overwritten(run, tiny_synth, tmp_path, capsys):
    out = tmp_path / "copy"
    shutil.copytree(run, out)
    before = sorted(p.name for p in out.iterdir())
    code, _, err = _cli(_pretrain_args(f"synth:{tiny_synth}", out, "train.steps=2", "train.resume=never"), capsys)
    _one_line_error(code, err, str(out), "train.resume=auto", "--overwrite")
    assert sorted(p.name for p in out.iterdir()) == before
    code, out_text, err = _cli(_pretrain_args(f"synth:{tiny_synth}", out, "train.steps=3", "train.resume=auto",
                                              "train.checkpoint_every=1"), capsys)
    assert code == 0 and err.count("resuming from") == 1 and "checkpoint-0000002.pt at step 2 of 3" in err
    assert "for 1 steps (steps 3-3, resumed at step 2)" in out_text
    code, out_text, _ = _cli(["pretrain", "--overwrite", *_pretrain_args(f"synth:{tiny_synth}", out,
                                                                         "train.steps=1")[1:]], capsys)
    assert code == 0 and "for 1 steps in" in out_text
    assert not (out / "checkpoint-0000003.pt").exists()


def test_a_second_process_on_one_run_folder_is_refused(tiny_synth, tmp_path, capsys):
    from modist.training.run_dir import RunLock

    out = tmp_path / "run"
    lock = RunLock(out)  # what a first process holds; flock conflicts between open files, even in one process
    try:
        code, _, err = _cli(_pretrain_args(f"synth:{tiny_synth}", out, "train.steps=1"), capsys)
        _one_line_error(code, err, str(out), f"pid {os.getpid()}")
    finally:
        lock.release()
    # A lock file left by a process that died holds no lock.
    code, _, _ = _cli(_pretrain_args(f"synth:{tiny_synth}", out, "train.steps=1"), capsys)
    assert code == 0 and (out / ".lock").exists()


# -- signals ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("sig", "status", "word"), [(signal.SIGINT, 130, "interrupted"),
                                                     (signal.SIGTERM, 143, "terminated")])
def test_interrupt_mid_run_exits_cleanly(sig, status, word, tiny_synth, tmp_path):
    out = tmp_path / "run"
    args = _pretrain_args(f"synth:{tiny_synth}", out, "train.steps=100000", "train.log_every=1",
                          "train.checkpoint_every=1")
    proc = subprocess.Popen([sys.executable, "-m", "modist.cli.main", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not ((out / "metrics.jsonl").is_file() and (out / "metrics.jsonl").stat().st_size
                   and list(out.glob("checkpoint-*.pt"))):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)  # a loaded machine writes curves.png slowly
    finally:
        proc.kill()
    assert proc.returncode == status, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == f"modist: {word}" + (
        " (SIGTERM)" if sig == signal.SIGTERM else "")
    assert not (out / "encoder.safetensors").exists()
    assert (out / "config.yaml").is_file()  # written before the first step
    # Which checkpoint was kept, and the command that continues from it (the demo recipe resumes already).
    lines = err.strip().splitlines()
    step = max(int(p.stem.split("-")[1]) for p in out.glob("checkpoint-*.pt"))
    assert lines[-3] == f"modist: kept {out / f'checkpoint-{step:07d}.pt'} (step {step} of 100000); continue with:"
    assert lines[-2] == "  " + shlex.join(["modist", *args])
    assert (out / "curves.png").is_file()  # drawn on the way out
