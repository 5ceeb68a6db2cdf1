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


def test_the_bench_libraries_return_results_and_name_their_parameters(capsys):
    import pytest

    from modist.bench.models import ModelsSettings, complexity_table
    from modist.bench.train import TrainBenchSettings, plan_train_bench
    from modist.errors import ConfigError

    table = complexity_table(ModelsSettings(archs=("r3d_tiny",), frames=4, size=32, classes=0))
    ((row, note),) = table.rows
    assert row.arch == "r3d_tiny" and row.params == row.params_with_fc and note == ""
    assert "| r3d_tiny | 1 | 4x32x32 |" in table.markdown() and "params (M)" in table.markdown()
    with pytest.raises(ConfigError, match="unknown backbone 'vit'"):
        complexity_table(ModelsSettings(archs=("vit",)))
    with pytest.raises(ConfigError, match="^unknown arch 'vit'"):
        plan_train_bench(TrainBenchSettings(archs=("vit",)))
    with pytest.raises(ConfigError, match="for device$"):
        plan_train_bench(TrainBenchSettings(archs=("r3d_tiny",), device="gpu"))
    plan = plan_train_bench(TrainBenchSettings(archs=("r3d_tiny",), device="cpu", compile=True, eager=False))
    assert plan.compiled == (True,) and plan.precision == "fp32" and not plan.channels_last
    assert plan.describe().startswith("device: CPU")
    assert capsys.readouterr().out == ""


def test_bench_train_flag_errors_name_the_flags(capsys):
    assert main(["bench", "train", "--arch", "r3d_tiny", "--no-eager"]) == 2
    assert capsys.readouterr().err == "modist: error: --no-eager needs --compile\n"
    assert main(["bench", "train", "--device", "gpu"]) == 2
    assert capsys.readouterr().err == "modist: error: invalid value 'gpu' for --device\n"


def test_bench_pretrain_times_the_recipes_loader_and_step(tiny_synth, capsys):
    from modist.cli.main import main

    code = main(["bench", "pretrain", "--config", "demo", "--steps", "2", "--warmup", "1",
                 f"data.dataset=synth:{tiny_synth}", "train.batch_size=4", "model.base_width=4",
                 "data.clip_frames=4", "method.queue_size=16", "model.proj_hidden=16", "data.crop_size=32",
                 "train.device=cpu", "train.threads=1"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and out[0].startswith("bench pretrain: demo (modist, r3d_tiny, batch 4 x 1")
    assert out[-1].startswith("end to end ") and "% of the step alone" in out[-1] and "device idle" in out[-1]
