"""Parallel generation in fresh worker processes (``python -m modist.synth.workers``).

Workers are plain subprocesses rather than a multiprocessing pool: a forked child
inherits OpenCV's (or torch's) thread pools in a broken state and can hang, and a
spawned child re-imports the caller's main script. Each worker reads its job list as
JSON on stdin and prints one JSON line per finished video.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import modist
from modist.data.adapters.synth import ManifestRow
from modist.errors import ModistError
from modist.synth.config import SynthConfig
from modist.synth.videos import make_video

Job = tuple[str, int]  # (split, index)


def run_in_workers(
    out: Path, config: SynthConfig, seed: int, jobs: list[Job], workers: int, on_done: Callable[[ManifestRow], None]
) -> dict[Job, ManifestRow]:
    """Make the videos of ``jobs`` in ``workers`` processes; ``on_done`` sees each row as it lands."""
    events: queue.Queue = queue.Queue()
    env = dict(os.environ)
    package_root = str(Path(modist.__file__).resolve().parents[1])  # works without an install too
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    running: list[tuple[subprocess.Popen, object]] = []
    done: dict[Job, ManifestRow] = {}
    try:
        for share in (jobs[i::workers] for i in range(workers)):
            if not share:
                continue
            errors = tempfile.TemporaryFile()
            proc = subprocess.Popen(
                [sys.executable, "-m", "modist.synth.workers"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=errors, env=env, text=True,
            )
            running.append((proc, errors))
            proc.stdin.write(json.dumps({"out": str(out), "config": config.to_dict(), "seed": seed, "jobs": share}))
            proc.stdin.close()
            threading.Thread(target=_pump, args=(proc, events), daemon=True).start()
        ended = 0
        while ended < len(running):
            kind, payload = events.get()
            if kind == "row":
                row = _row_from_json(payload)
                done[row.split, int(payload["index"])] = row
                on_done(row)
                continue
            ended += 1
            if payload.wait() != 0:
                errors = next(err for proc, err in running if proc is payload)
                raise ModistError(f"synth worker failed: {_last_line(errors)}")
    finally:
        for proc, errors in running:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            errors.close()
    return done


def _pump(proc: subprocess.Popen, events: queue.Queue) -> None:
    for line in proc.stdout:
        if line.strip():
            events.put(("row", json.loads(line)))
    events.put(("end", proc))


def _last_line(handle) -> str:
    handle.seek(0)
    lines = [line.strip() for line in handle.read().decode(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "exited without a message"


def _row_to_json(row: ManifestRow, index: int) -> str:
    return json.dumps({
        "index": index, "path": str(row.path), "label": row.label, "label_name": row.label_name,
        "split": row.split, "background": row.background, "mask_path": str(row.mask_path),
    })


def _row_from_json(data: dict) -> ManifestRow:
    return ManifestRow(Path(data["path"]), int(data["label"]), data["label_name"], data["split"],
                       int(data["background"]), Path(data["mask_path"]))


def main() -> None:
    import cv2

    cv2.setNumThreads(1)  # frames are tiny; the other workers use the other cores
    spec = json.load(sys.stdin)
    config = SynthConfig.from_dict(spec["config"])
    out = Path(spec["out"])
    for split, index in spec["jobs"]:
        try:
            row = make_video(out, config, int(spec["seed"]), split, int(index))
        except ModistError as exc:
            print(exc, file=sys.stderr)
            sys.exit(1)
        print(_row_to_json(row, int(index)), flush=True)


if __name__ == "__main__":
    main()
