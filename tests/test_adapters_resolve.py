"""``resolve_dataset``: kind:ROOT specs, detection of bare paths, errors naming the path."""

from __future__ import annotations

import pytest

from modist.data.adapters import detect_kind, parse_spec, resolve_dataset
from modist.errors import DataError


def touch(path, text="x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("files, kind", [
    (["manifest.csv", "synth.json"], "synth"),
    (["classInd.txt"], "ucf101"),
    (["ucfTrainTestlist/classInd.txt"], "ucf101"),
    (["splits/wave_test_split1.txt"], "hmdb51"),
    (["wave_test_split1.txt"], "hmdb51"),
    (["labels.json"], "ssv2"),
    (["labels/labels.json"], "ssv2"),
    (["manifest.csv"], "folder"),  # a plain folder that happens to hold a CSV
    (["a/b.mp4"], "folder"),
])
def test_detect_kind(tmp_path, files, kind):
    for name in files:
        touch(tmp_path / name)
    assert detect_kind(tmp_path) == kind


def test_specs(tmp_path):
    csv = touch(tmp_path / "list.csv", "path\n")
    assert parse_spec(str(csv)) == ("manifest", csv)
    assert parse_spec(f"UCF101:{tmp_path}") == ("ucf101", tmp_path)
    assert parse_spec(f"kinetics:{tmp_path}/k400") == ("kinetics", tmp_path / "k400")
    touch(tmp_path / "v.mp4")
    assert len(resolve_dataset(f"folder:{tmp_path}")) == 1


def test_bad_specs_raise_data_error_naming_the_path(tmp_path):
    with pytest.raises(DataError, match="unknown dataset kind 'youtube'"):
        resolve_dataset(f"youtube:{tmp_path}")
    with pytest.raises(DataError, match="nowhere: dataset not found"):
        resolve_dataset(str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="nowhere: ssv2 dataset not found"):
        resolve_dataset(f"ssv2:{tmp_path / 'nowhere'}")
    with pytest.raises(DataError, match="no path after 'folder:'"):
        resolve_dataset("folder:")
    touch(tmp_path / "notes.txt")
    with pytest.raises(DataError, match="notes.txt: not a dataset"):
        resolve_dataset(str(tmp_path / "notes.txt"))
    with pytest.raises(DataError, match="ucfTrainTestlist/classInd.txt"):
        resolve_dataset(f"ucf101:{tmp_path}")
