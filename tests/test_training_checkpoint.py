import random

import numpy as np
import pytest
import torch

from modist.errors import DataError
from modist.models.run_files import find_latest_checkpoint, load_checkpoint, numbered_checkpoints
from modist.training.checkpoint import remove_checkpoints, save_step_checkpoint
from modist.training.rng import restore_rng_state, rng_state, seed_everything


def test_keep_last_k_and_latest_points_at_the_newest(tmp_path):
    assert find_latest_checkpoint(tmp_path) is None
    for step in (10, 20, 30, 40):
        save_step_checkpoint(tmp_path, step, {"step": step, "w": torch.full((3,), float(step))}, "a: 1\n", keep=2)
    assert [s for s, _ in numbered_checkpoints(tmp_path)] == [30, 40]
    assert find_latest_checkpoint(tmp_path).name == "checkpoint-0000040.pt"
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 40
    assert (tmp_path / "config.yaml").read_text() == "a: 1\n"
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary files left behind
    remove_checkpoints(tmp_path)
    assert find_latest_checkpoint(tmp_path) is None


def test_keep_zero_keeps_every_checkpoint(tmp_path):
    for step in (1, 2, 3):
        save_step_checkpoint(tmp_path, step, {"step": step}, "", keep=0)
    assert [s for s, _ in numbered_checkpoints(tmp_path)] == [1, 2, 3]


def test_truncated_checkpoint_is_a_one_line_data_error(tmp_path):
    path = save_step_checkpoint(tmp_path, 5, {"step": 5, "w": torch.zeros(1000)}, "", keep=1)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match="bad.pt"):
        load_checkpoint(bad)


def test_rng_states_survive_a_weights_only_checkpoint(tmp_path):
    seed_everything(7)
    random.random(), np.random.rand(), torch.rand(1)  # move every generator off its seed
    np.random.randn()  # leaves a cached Gaussian in numpy's state
    save_step_checkpoint(tmp_path, 1, {"rng": rng_state()}, "", keep=1)
    expected = (random.random(), np.random.randn(), torch.rand(3))
    seed_everything(123)
    restore_rng_state(load_checkpoint(tmp_path / "checkpoint.pt")["rng"])
    got = (random.random(), np.random.randn(), torch.rand(3))
    assert got[0] == expected[0] and got[1] == expected[1] and torch.equal(got[2], expected[2])


def test_every_output_has_one_file_mode(tmp_path):
    import os

    from modist.models.encoder_io import EncoderSpec, save_encoder

    spec = EncoderSpec("r3d_tiny", 3, base_width=4)
    save_encoder(tmp_path, spec.build(), spec, {})  # safetensors replaces the file it is given with a 0600 one
    save_step_checkpoint(tmp_path, 1, {"step": 1}, "x: 1\n")
    mask = os.umask(0)
    os.umask(mask)
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in tmp_path.iterdir()}
    assert set(modes.values()) == {oct(0o666 & ~mask)}, modes
