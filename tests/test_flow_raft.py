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


def test_weights_digest_follows_the_contents_not_the_path(monkeypatch, tmp_path):
    from modist.flow.raft import weights_digest

    weights = tmp_path / "raft.pth"
    weights.write_bytes(b"abc")
    assert weights_digest(weights) == "sha256:ba7816bf8f01cfea"  # sha256("abc"), first 16 hex digits
    monkeypatch.setenv(WEIGHTS_ENV, str(weights))
    assert weights_digest() == "sha256:ba7816bf8f01cfea"
    weights.write_bytes(b"abcd")  # same path, other weights
    assert weights_digest(weights) == "sha256:88d4266fd4e6338d"
    with pytest.raises(FlowError, match="gone.pth not found"):
        weights_digest(tmp_path / "gone.pth")


def test_flow_made_with_raft_records_its_weights(tmp_path):
    from modist.data.prepared import MotionInputSettings
    from modist.flow.motion_input import MotionInputWriter
    from modist.flow.precompute import PrecomputeSettings

    a, b = tmp_path / "a.pth", tmp_path / "b.pth"
    a.write_bytes(b"abc")
    b.write_bytes(b"abcd")
    store = PrecomputeSettings(estimator="raft", options={"weights": str(a)}).identity()
    assert store["raft_weights"] == "sha256:ba7816bf8f01cfea"
    assert "raft_weights" not in PrecomputeSettings(estimator="dis").identity()
    writer = MotionInputWriter(MotionInputSettings(estimator="raft", preset=""), options={"weights": str(b)})
    assert writer.settings["raft_weights"] == "sha256:88d4266fd4e6338d"
