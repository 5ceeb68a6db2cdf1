import re

from modist.cli.main import main


def test_bench_train_prints_throughput_memory_and_flops(capsys):
    args = ["bench", "train", "--arch", "r3d_tiny", "--batch", "2", "--frames", "2", "--size", "16",
            "--queue-size", "64", "--steps", "1", "--warmup", "1", "--threads", "1", "--peak-tflops", "1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| r3d_tiny"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:4] == ["eager", "2", "2x16x16"]
    clips_per_sec, step_ms, cpu_ms, memory, gflop, tflops = map(float, cells[4:10])
    assert clips_per_sec > 0 and cpu_ms > 0 and memory > 0 and gflop > 0
    assert abs(clips_per_sec - 2 / (step_ms / 1000)) / clips_per_sec < 0.02
    assert abs(tflops - gflop / step_ms) / tflops < 0.05
    assert re.fullmatch(r"\d+\.\d%", cells[10])  # utilisation against --peak-tflops


def test_bench_train_rejects_unknown_arch(capsys):
    assert main(["bench", "train", "--arch", "vit"]) == 2
    assert "vit" in capsys.readouterr().err
