"""modist.serialization: every torch.save file is read weights-only unless a caller trusts it."""

import argparse
import pickle

import pytest
import torch

from modist.errors import DataError
from modist.serialization import PickleRefused, load_torch_file


def test_a_file_of_tensors_and_containers_loads(tmp_path):
    path = tmp_path / "state.pt"
    torch.save({"step": 7, "w": torch.arange(3.0), "rng": (1, [2, 3])}, path)
    state = load_torch_file(path)
    assert state["step"] == 7 and torch.equal(state["w"], torch.tensor([0.0, 1.0, 2.0]))
    assert state["rng"] == (1, [2, 3])


def test_an_object_is_refused_in_one_line_naming_the_file_and_the_global_unless_trusted(tmp_path):
    path = tmp_path / "foreign.pth"
    torch.save({"args": argparse.Namespace(lr=0.1), "w": torch.zeros(2)}, path)
    with pytest.raises(PickleRefused) as refused:
        load_torch_file(path, what="mmaction2 checkpoint")
    message = str(refused.value)
    assert message.startswith(f"{path}: not a readable mmaction2 checkpoint (") and "\n" not in message
    assert "argparse.Namespace" in refused.value.reason and isinstance(refused.value, DataError)
    assert load_torch_file(path, trust_pickle=True)["args"].lr == 0.1


def test_a_plain_pickle_is_refused_too(tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(pickle.dumps({"hello": [1, 2, 3]}))
    with pytest.raises(PickleRefused, match=f"^{path}: not a readable checkpoint"):
        load_torch_file(path)


def test_truncated_and_missing_files_are_data_errors_not_refusals(tmp_path):
    path = tmp_path / "cut.pt"
    torch.save({"w": torch.zeros(1000)}, path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError) as cut:
        load_torch_file(path, what="modist checkpoint")
    assert not isinstance(cut.value, PickleRefused)
    assert str(cut.value).startswith(f"{path}: not a readable modist checkpoint (PytorchStreamReader failed")
    assert len(str(cut.value).split("(", 1)[1]) <= 201  # torch's reason, cut to one short line
    with pytest.raises(DataError, match=f"^{tmp_path / 'absent.pt'}: not a readable checkpoint"):
        load_torch_file(tmp_path / "absent.pt")
