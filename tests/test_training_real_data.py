"""A few pretraining steps on the real clips in ../shared/data/videos, with a corrupt file mixed in."""

import csv

import numpy as np
import pytest

from modist.config import load_config
from modist.configs import config_path
from modist.training.trainer import pretrain

from conftest import SHARED_DATA

VIDEOS = SHARED_DATA / "videos"


@pytest.mark.skipif(not VIDEOS.is_dir(), reason="shared real clips not available")
def test_pretraining_on_real_clips_skips_a_corrupt_file(tmp_path):
    clips = sorted((VIDEOS / "labeled").glob("*.avi"))[:5] + sorted((VIDEOS / "unlabeled").glob("*.mp4"))[:2]
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes((VIDEOS / "unlabeled" / "R6llTwEh07w.mp4").read_bytes()[:3000])
    manifest = tmp_path / "videos.csv"
    with manifest.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path"])
        for path in [*clips, corrupt]:
            writer.writerow([str(path)])
    cfg = load_config(config_path("demo"), [
        f"data.dataset=manifest:{manifest}", "data.short_side=64", "data.crop_size=32", "data.frame_cache=0",
        "data.stride=4", "data.flip=true", "model.base_width=4", "model.proj_hidden=32", "method.queue_size=16",
        "train.batch_size=4", "train.steps=4", "train.progress=false", "train.device=cpu",
        f"train.out_dir={tmp_path / 'run'}",
    ])
    result = pretrain(cfg)
    assert result.skipped_videos >= 1
    assert len(result.history) == 4 and np.isfinite([h["loss"] for h in result.history]).all()
    assert (tmp_path / "run" / "encoder.safetensors").is_file()
