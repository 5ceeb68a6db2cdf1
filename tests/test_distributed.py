"""Two CPU processes (gloo) against one process at the same global batch.

With the key encoders' and the query encoders' batch norm synchronised
(``method.key_bn=sync``, ``train.sync_bn=true``) and augmentation that draws nothing
that matters (full-frame square crops, no jitter or flip), a 2-rank run computes the
same global-batch loss as a 1-process run: the sampler gives both the same global
batches in the same order, DDP averages the ranks' gradients of their batch-mean
losses (= the gradient of the global mean) and the all-gathered keys enter the
queues in the same order. What remains is floating-point summation order (per-rank
sums, then the all-reduce), so losses agree to ~1e-6; the test allows 1e-4. The small
learning rate matters: batch norm over 4-8 near-identical clips amplifies rounding, and at
lr 0.05 a 1e-6 relative change of the weights already moves the third step's loss by 5e-4.
"""

import json
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from modist.config import load_config
from modist.configs import config_path
from modist.methods.collective import all_gather_cat, shuffled_forward_across_ranks
from modist.training.sync_bn import GlobalBatchNorm
from modist.training.trainer import pretrain

from conftest import tiny_overrides

WORLD = 2
GLOBAL_BATCH = 8
STEPS = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _overrides(data, out, batch_size):
    return tiny_overrides(data, out, steps=STEPS) + [
        f"train.batch_size={batch_size}", "model.base_width=4", "data.clip_frames=4", "train.threads=1",
        "data.color_jitter=0", "data.grayscale_prob=0", "data.flip=false", "data.crop_scale_min=1",
        "data.crop_aspect_max=1", "method.key_bn=sync", "train.sync_bn=true", "optim.name=sgd", "optim.lr=0.01",
        "train.log_every=1",
    ]


def _collectives_check(rank: int) -> dict:
    """Shuffle-BN across ranks returns keys in input order; global BN matches BN of the whole batch."""
    torch.manual_seed(0)  # the same "global batch" on every rank
    x_all = torch.randn(WORLD * 3, 5)
    encoder = nn.Linear(5, 4)  # identical on every rank by the seed
    mine = x_all[rank * 3 : (rank + 1) * 3]
    local, everyone = shuffled_forward_across_ranks(encoder, mine)
    with torch.no_grad():
        shuffle_ok = torch.allclose(local, encoder(mine), atol=1e-6) and torch.allclose(everyone, encoder(x_all),
                                                                                           atol=1e-6)
    gathered_ok = torch.equal(all_gather_cat(mine), x_all)

    # Global batch norm: output and input gradient of this rank's rows equal those of plain BN on all rows,
    # for ordinary activations and for near-collapsed ones (|mean| = 3000 std), where a one-pass
    # E[x^2] - E[x]^2 variance would be all rounding error.
    bn_ok = True
    for seed, scale, offset in [(1, 3.0, 1.0), (2, 0.01, 30.0)]:
        torch.manual_seed(seed)  # rank 0 drew the shuffle's permutation above
        v = torch.randn(WORLD * 3, 2, 4) * scale + offset
        w = torch.randn(WORLD * 3, 2, 4)
        ref_in = v.clone().requires_grad_(True)
        ref_bn = nn.BatchNorm1d(2)
        ref_out = ref_bn(ref_in)
        (ref_out * w).sum().backward()
        bn = GlobalBatchNorm(2)
        mine_in = v[rank * 3 : (rank + 1) * 3].clone().requires_grad_(True)
        out = bn(mine_in)
        (out * w[rank * 3 : (rank + 1) * 3]).sum().backward()
        rows = slice(rank * 3, (rank + 1) * 3)
        grad_tol = 1e-5 / scale  # d out / d in scales as 1 / std
        bn_ok = bn_ok and bool(torch.allclose(out, ref_out[rows], atol=1e-3)
                               and torch.allclose(mine_in.grad, ref_in.grad[rows], rtol=1e-3, atol=grad_tol)
                               and torch.allclose(bn.running_var, ref_bn.running_var, rtol=1e-3, atol=1e-5))
    return {"shuffle": bool(shuffle_ok), "gather": bool(gathered_ok), "bn": bn_ok}


def _worker(rank: int, ports: tuple[int, int], data: str, out: str, results: str) -> None:
    # As torchrun would set them: the trainer creates (and destroys) the process group itself.
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(ports[0]))
    torch.set_num_threads(1)
    cfg = load_config(config_path("demo"), _overrides(data, out, GLOBAL_BATCH // WORLD))
    result = pretrain(cfg)
    assert not dist.is_initialized()
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{ports[1]}", rank=rank, world_size=WORLD)
    checks = _collectives_check(rank)
    torch.save({
        "checks": checks,
        "losses": [h["loss"] for h in result.history],
        "visual_queue": result.method.visual_queue.keys.clone(),
        "motion_queue": result.method.motion_queue.keys.clone(),
        "visual_key": result.method.visual_key.state_dict(),
    }, os.path.join(results, f"rank{rank}.pt"))
    dist.destroy_process_group()


def test_two_ranks_match_one_process_and_keep_identical_queues(tiny_synth, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    ports = (_free_port(), _free_port())
    mp.spawn(_worker, args=(ports, str(tiny_synth), str(tmp_path / "ddp"), str(results)), nprocs=WORLD)
    ranks = [torch.load(results / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    for r in ranks:
        assert r["checks"] == {"shuffle": True, "gather": True, "bn": True}

    torch.set_num_threads(1)
    single = pretrain(load_config(config_path("demo"), _overrides(tiny_synth, tmp_path / "one", GLOBAL_BATCH)))
    expected = [h["loss"] for h in single.history]
    assert len(expected) == STEPS and expected[0] != expected[-1]
    for r in ranks:
        assert r["losses"] == pytest.approx(expected, rel=1e-4, abs=1e-4)

    # (b) every rank enqueued the same all-gathered keys, and in the single process's order.
    assert torch.equal(ranks[0]["visual_queue"], ranks[1]["visual_queue"])
    assert torch.equal(ranks[0]["motion_queue"], ranks[1]["motion_queue"])
    assert torch.allclose(ranks[0]["visual_queue"], single.method.visual_queue.keys, atol=1e-4)
    assert torch.allclose(ranks[0]["motion_queue"], single.method.motion_queue.keys, atol=1e-4)
    for key, value in ranks[0]["visual_key"].items():
        assert torch.equal(value, ranks[1]["visual_key"][key]), key

    # Only rank 0 wrote the run directory: one metrics line per step, one final checkpoint.
    lines = (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == list(range(1, STEPS + 1))
    assert (tmp_path / "ddp" / "encoder.safetensors").is_file()


def test_launch_environment_is_read_as_torchrun_sets_it():
    from modist.errors import ConfigError
    from modist.runtime import TorchrunEnv, torchrun_env

    assert torchrun_env({}) == TorchrunEnv()
    env = torchrun_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert (env.rank, env.world_size, env.local_rank, env.enabled, env.is_main) == (3, 4, 1, True, False)
    with pytest.raises(ConfigError, match="WORLD_SIZE=2"):
        torchrun_env({"RANK": "2", "WORLD_SIZE": "2"})
