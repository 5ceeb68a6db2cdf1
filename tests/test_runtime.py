"""``modist.runtime``: device resolution, torchrun's environment, the process group; the layering it enables."""

import subprocess
import sys

import pytest
import torch

from modist.errors import ConfigError
from modist.flow.precompute import resolve_shard
from modist.runtime import TorchrunEnv, distributed_world, resolve_device, torchrun_env


@pytest.mark.parametrize("flag", ["train.device", "--device", "device"])
def test_an_invalid_device_names_the_flag_it_came_from(flag):
    with pytest.raises(ConfigError) as exc:
        resolve_device("cuda:7x", flag=flag)
    assert str(exc.value) == f"invalid value 'cuda:7x' for {flag}"


def test_device_errors_name_the_config_key_by_default():
    with pytest.raises(ConfigError, match="for train.device$"):
        resolve_device("gpu0")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_names_the_flag():
    with pytest.raises(ConfigError, match=r"^--device=cuda but CUDA is not available"):
        resolve_device("cuda", flag="--device")


def test_explicit_and_automatic_devices():
    assert resolve_device("cpu", flag="--device") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")


def test_torchrun_environment_good_values():
    assert torchrun_env({}) == TorchrunEnv(0, 1, 0)
    assert torchrun_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == TorchrunEnv(3, 4, 1)
    assert torchrun_env({"RANK": "2", "WORLD_SIZE": "4"}).local_rank == 2  # LOCAL_RANK defaults to RANK


@pytest.mark.parametrize("environ, name", [
    ({"RANK": "one", "WORLD_SIZE": "2"}, "RANK='one'"),
    ({"RANK": "0", "WORLD_SIZE": "2.0"}, "WORLD_SIZE='2.0'"),
    ({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": ""}, "LOCAL_RANK=''"),
])
def test_a_non_integer_variable_is_a_one_line_error_naming_it(environ, name):
    with pytest.raises(ConfigError) as exc:
        torchrun_env(environ)
    message = str(exc.value)
    assert message.startswith(name) and "not an integer" in message and "\n" not in message


@pytest.mark.parametrize("environ", [{"RANK": "2", "WORLD_SIZE": "2"}, {"RANK": "-1"}, {"WORLD_SIZE": "0"}])
def test_a_rank_outside_the_world_is_rejected(environ):
    with pytest.raises(ConfigError, match="is not within WORLD_SIZE"):
        torchrun_env(environ)


def test_torchrun_env_reads_the_process_environment_by_default(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert torchrun_env() == TorchrunEnv(1, 3, 1)


def test_shards_come_from_the_arguments_else_from_torchrun():
    env = {"RANK": "1", "WORLD_SIZE": "3"}
    assert resolve_shard(None, None, environ=env) == (1, 3)
    assert resolve_shard(0, 2, environ=env) == (0, 2)
    assert resolve_shard(2, None, environ=env) == (2, 3)
    assert resolve_shard(None, None, environ={}) == (0, 1)
    assert resolve_shard(1, 2, environ={"RANK": "x"}) == (1, 2)  # both given: the environment is not read


@pytest.mark.parametrize("shard, num_shards", [(2, 2), (-1, 2), (0, 0), (5, None)])
def test_a_shard_out_of_range_is_rejected(shard, num_shards):
    with pytest.raises(ConfigError, match="need 0 <= shard < num_shards"):
        resolve_shard(shard, num_shards, environ={"WORLD_SIZE": "4"})


def test_a_bad_torchrun_variable_stops_shard_resolution():
    with pytest.raises(ConfigError, match="RANK='r1'"):
        resolve_shard(None, 2, environ={"RANK": "r1"})


def test_no_process_group_is_one_process():
    assert distributed_world() == (0, 1)


def _imported_after(statement: str) -> list[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(m for m in sys.modules if m.startswith('modist'))))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return proc.stdout.split()


def test_runtime_is_a_leaf():
    assert set(_imported_after("import modist.runtime")) <= {"modist", "modist.errors", "modist.runtime"}


def test_evaluation_and_the_embed_command_do_not_import_training():
    modules = _imported_after("import modist.evaluation, modist.evaluation.runner, modist.evaluation.finetune, "
                              "modist.evaluation.report, modist.cli.embed, modist.cli.evaluate")
    assert "modist.evaluation.finetune" in modules
    assert not [m for m in modules if m.startswith("modist.training")]
