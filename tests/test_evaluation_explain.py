"""``modist.evaluation.explain.explain``: the files it writes, its counts, its errors (no command line)."""

import json

import pytest
import torch

from modist.errors import ConfigError
from modist.evaluation.explain import explain, seeded_subset

from test_evaluation_embed import tiny_checkpoint

torch.set_num_threads(1)


def test_explain_writes_a_gif_per_clip_and_map_and_counts_an_unreadable_video(tiny_synth, tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "run_a")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    out = tmp_path / "explain"
    result = explain(checkpoints=[ckpt], inputs=[str(broken), f"synth:{tiny_synth}"], out=out, max_videos=2,
                     clips=2, maps=("activation",), device="cpu", progress=False)
    assert (result.videos, result.clips, result.skipped) == (2, 4, 1)
    assert result.inputs == ["broken.mp4", f"synth:{tiny_synth} (test_unbiased)"]
    assert result.checkpoints == {"run_a": str(ckpt)}  # the run folder's name labels it
    assert len(result.gifs) == 2 * 2 and all(p.startswith(str(out / "run_a")) for p in result.gifs)
    assert sorted(p.rsplit("_", 2)[1] for p in result.gifs) == ["clip0", "clip0", "clip1", "clip1"]
    assert result.contact_sheet == out / "contact_sheet.png" and result.contact_sheet.stat().st_size > 1000
    assert not (out / "explain.json").exists()  # the caller writes it, from to_json()
    info = json.loads(json.dumps(result.to_json()))
    assert info["maps"] == ["activation"] and info["skipped_unreadable"] == 1 and info["clips_per_video"] == 2


@pytest.mark.parametrize("kwargs, message", [
    ({"labels": ["a", "b"]}, "labels: 2 given for 1 checkpoint(s)"),
    ({"clips": 0}, "clips must be positive, got 0"),
    ({"maps": ("edges",)}, "maps must be some of activation, gradient, got edges"),
])
def test_errors_name_the_parameter_not_a_flag(tmp_path, kwargs, message):
    with pytest.raises(ConfigError) as err:
        explain(checkpoints=[tmp_path / "run"], inputs=["synth:nowhere"], out=tmp_path, **kwargs)
    assert str(err.value) == message


def test_seeded_subset_keeps_order_and_draws_by_seed():
    items = list(range(10))
    picked = seeded_subset(items, 4, seed=3)
    assert len(picked) == 4 and picked == sorted(picked) and picked == seeded_subset(items, 4, seed=3)
    assert any(seeded_subset(items, 4, seed=s) != picked for s in range(4, 8))
    assert seeded_subset(items, 10, seed=0) == items
