"""RAFT adapter: refuses clearly when torchvision or local weights are missing; never downloads."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from modist.errors import FlowError
from modist.flow import estimate
from modist.flow.raft import WEIGHTS_ENV, check_available

IMG = np.zeros((16, 16, 3), np.uint8)
HAS_TORCHVISION = importlib.util.find_spec("torchvision") is not None


def test_without_weights_names_the_option_and_env(monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    with pytest.raises(FlowError, match=f"no weights file.*weights=PATH.*{WEIGHTS_ENV}") as info:
        estimate(IMG, IMG, estimator="raft")
    assert "\n" not in str(info.value)


def test_missing_weights_file_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "env_raft.pth"))
    with pytest.raises(FlowError, match="env_raft.pth not found"):
        check_available()
    with pytest.raises(FlowError, match="given_raft.pth not found"):
        estimate(IMG, IMG, estimator="raft", weights=tmp_path / "given_raft.pth")


@pytest.mark.skipif(HAS_TORCHVISION, reason="torchvision is installed here")
def test_missing_torchvision_is_named_even_with_weights(tmp_path):
    weights = tmp_path / "raft.pth"
    weights.write_bytes(b"not used")
    with pytest.raises(FlowError, match="raft' unavailable: torchvision does not import") as info:
        estimate(IMG, IMG, estimator="raft", weights=weights)
    assert "weights" not in str(info.value).split("torchvision does not import")[1]
