"""``modist bench flow`` end to end on one downscaled shared pair."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from modist.cli.main import main

FLOW_DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "flow").resolve()


def test_bench_writes_markdown_table_with_epe_and_speed(tmp_path, capsys):
    if not FLOW_DATA.exists():
        pytest.skip("shared flow data not available")
    with open(FLOW_DATA / "pairs.csv", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["name"] == "sintel/clean/alley_1")
    one = tmp_path / "pairs.csv"
    with open(one, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        writer.writeheader()
        # absolute paths: pathlib keeps them when joined to the CSV's folder
        writer.writerow({k: (str(FLOW_DATA / v) if v and "/" in v and k != "name" else v) for k, v in row.items()})
    out = tmp_path / "flow.md"
    code = main([
        "bench", "flow", "--pairs", str(one), "--no-stereo", "--estimators", "dis:ultrafast,farneback",
        "--max-side", "160", "--speed-pairs", "2", "--out", str(out),
    ])
    assert code == 0
    table = out.read_text()
    assert "| dis:ultrafast |" in table and "| farneback |" in table
    rows = {line.split("|")[1].strip(): line.split("|") for line in table.splitlines() if line.startswith("| ")}
    zero = float(rows["zero flow"][2])
    assert float(rows["dis:ultrafast"][2]) < zero  # beats zero flow
    assert float(rows["farneback"][3]) > 0  # pairs/s
    assert "sintel/clean/alley_1@160" in table
    assert "lowest mean EPE" in capsys.readouterr().out


def test_bench_rejects_unknown_estimator(tmp_path, capsys):
    if not FLOW_DATA.exists():
        pytest.skip("shared flow data not available")
    pairs = str(FLOW_DATA / "pairs.csv")
    code = main(["bench", "flow", "--pairs", pairs, "--estimators", "nope", "--out", str(tmp_path / "x.md")])
    assert code == 2
    assert "unknown flow estimator 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x.md").exists()
