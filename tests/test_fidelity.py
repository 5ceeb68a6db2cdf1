"""docs/fidelity.md and the shipped maclr_k400 recipe hold each other in place."""

import re
from pathlib import Path

import pytest
import yaml

from modist.config import load_config, to_dict
from modist.configs import config_path

DOC = Path(__file__).resolve().parents[1] / "docs" / "fidelity.md"
PAIR = re.compile(r"`([a-z_][a-z_0-9]*(?:\.[a-z_0-9]+)+): ([^`]+)`")


def _tables(doc: str) -> dict[str, list[list[str]]]:
    """Rows (cells) of the tables under each ``## `` heading."""
    out: dict[str, list[list[str]]] = {}
    heading = ""
    for line in doc.splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
        elif line.startswith("|") and not set(line) <= set("|-: "):
            out.setdefault(heading, []).append([c.strip() for c in line.strip("|").split("|")])
    return {h: rows[1:] for h, rows in out.items()}  # without the header row


def _recipe_pairs() -> dict[str, object]:
    tables = _tables(DOC.read_text())
    pairs = {}
    for heading in ("Pretraining: `maclr_k400`", "Motion input"):
        for row in tables[heading]:
            for key, value in PAIR.findall(row[3]):
                pairs[key] = yaml.safe_load(value)
    return pairs


def test_every_recipe_value_in_the_table_is_the_shipped_recipe():
    cfg = to_dict(load_config(config_path("maclr_k400")))
    pairs = _recipe_pairs()
    assert len(pairs) >= 30
    for key, value in pairs.items():
        section, name = key.split(".")
        assert cfg[section][name] == value, key


def test_every_value_the_recipe_labels_as_the_release_is_in_the_table():
    pairs = _recipe_pairs()
    labelled = []
    section = ""
    for line in config_path("maclr_k400").read_text().splitlines():
        if re.match(r"^[a-z]+:$", line):
            section = line[:-1]
        m = re.match(r"^  ([a-z_0-9]+): [^#]*# (release|raft)\b", line)
        if m:
            labelled.append(f"{section}.{m.group(1)}")
    assert len(labelled) >= 20
    missing = [key for key in labelled if key not in pairs]
    assert not missing, f"labelled release values not in docs/fidelity.md: {missing}"


@pytest.mark.parametrize("key, value", [
    ("method.temperature", 0.1), ("method.queue_size", 65536), ("method.momentum", 0.999),
    ("method.weight_vv", 1.0), ("method.weight_vm", 1.0), ("method.weight_mv", 1.0), ("method.weight_mm", 0.0),
    ("model.proj_hidden", 2048), ("model.embed_dim", 128), ("model.arch", "slow_r50_modist"),
    ("model.motion_arch", "slow_r50_t1"), ("model.motion_width_divisor", 8), ("data.clip_frames", 8),
    ("data.stride", 8), ("motion.clip_frames", 16), ("motion.stride", 4), ("motion.flow_gap", 5),
    ("motion.encoding", "flow_edges"), ("motion.flow_direction", "backward"),
])
def test_the_release_values_named_by_the_paper_recipe(key, value):
    section, name = key.split(".")
    assert getattr(getattr(load_config(config_path("maclr_k400")), section), name) == value


def _protocol_pairs(heading: str) -> tuple[dict[str, object], set[str]]:
    """``key: value`` pairs of one protocol table, and the settings it marks as not reproduced."""
    pairs, not_reproduced = {}, set()
    for row in _tables(DOC.read_text())[heading]:
        found = PAIR.findall(row[3])
        for key, value in found:
            pairs[key] = yaml.safe_load(value)
        if row[3] == "not reproduced":
            not_reproduced.add(row[0].replace(" ", "_"))
    return pairs, not_reproduced


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize("task, heading", [
    ("finetune", "Finetuning: `modist eval finetune --protocol maclr`"),
    ("linear", "Linear protocol: `modist eval linear --protocol maclr`"),
])
def test_protocol_tables_are_the_presets(task, heading):
    from modist.evaluation.presets import resolve

    settings = resolve(task, "maclr", dataset_kind="ucf101")
    pairs, not_reproduced = _protocol_pairs(heading)
    listed = {key.split(".", 2)[2] for key in pairs}
    # Every setting of the preset is in the table, as a value modist applies or as one it does not.
    assert listed | not_reproduced == set(settings)
    for key, value in pairs.items():
        t, name, setting = key.split(".", 2)
        assert (t, name) == (task, "maclr")
        assert settings[setting].applied and _plain(settings[setting].value) == value, key
    assert all(not settings[k].applied for k in not_reproduced)


def test_ssv2_table_is_the_dataset_rule():
    from modist.evaluation.presets import resolve

    pairs = {}
    for row in _tables(DOC.read_text())["Something-Something v2"]:
        pairs.update({k: yaml.safe_load(v) for k, v in PAIR.findall(row[3])})
    assert pairs == {"ssv2.flip": False, "ssv2.temporal_views": 1, "ssv2.spatial_views": 1}
    for task in ("finetune", "linear"):
        settings = resolve(task, "maclr", dataset_kind="ssv2")
        for key, value in pairs.items():
            assert settings[key.split(".")[1]].value == value
