"""``modist bench train``: the MoDist training step on random tensors, on the current device.

The step is the trainer's own (:class:`modist.training.step.TrainStep`): visual query
(forward + backward) and momentum key (forward), thin motion pathway query and key,
two views, the four InfoNCE terms against queues of ``--queue-size`` keys, the queue
update, the momentum update and the optimiser. It is timed after warm-up steps, with
CUDA synchronised around the timed window, eagerly and (``--compile``) with every
pathway compiled.

Reported: clips/s (videos of two views per second), wall and process-CPU time per
step (on a shared CPU the CPU time is the figure that stays meaningful), peak memory (CUDA: max allocated;
CPU: the process's peak resident set during the timed window), FLOPs of one step
counted by :class:`torch.utils.flop_counter.FlopCounterMode` (forward, backward and
the InfoNCE matmuls; 2 FLOPs per multiply-add), achieved TFLOP/s and the model FLOP
utilisation against the device's dense peak for the precision (``--peak-tflops``
overrides; CPU: n/a unless given).
"""

from __future__ import annotations

import copy
import gc
import resource
import time
from dataclasses import dataclass, field

import torch
from torch.utils.flop_counter import FlopCounterMode
from tqdm import tqdm

from modist.config import load_config
from modist.errors import ConfigError
from modist.flow.encodings import motion_channels
from modist.methods.base import Batch
from modist.runtime import resolve_device
from modist.training.build import build_training_method
from modist.training.optim import build_optimizer
from modist.training.step import TrainStep, channels_last_views, compile_networks

# Dense tensor-core peaks (TFLOP/s) from the vendors' data sheets, by device-name fragment.
PEAK_TFLOPS: dict[str, dict[str, float]] = {
    "H100": {"bf16": 989.4, "fp16": 989.4, "fp32": 66.9},
    "H200": {"bf16": 989.4, "fp16": 989.4, "fp32": 66.9},
    "A100": {"bf16": 312.0, "fp16": 312.0, "fp32": 19.5},
}

# Per architecture: CPU defaults (batch, frames, size), GPU defaults, motion pathway arch and width divisor.
ARCH_DEFAULTS: dict[str, dict] = {
    "r3d_tiny": {"cpu": (32, 8, 48), "cuda": (256, 8, 112), "motion": "r3d_tiny", "divisor": 4, "base_width": 16},
    "r3d_18": {"cpu": (4, 8, 112), "cuda": (64, 16, 112), "motion": "r3d_18", "divisor": 8, "base_width": 64},
    "r2plus1d_18": {"cpu": (4, 8, 112), "cuda": (64, 16, 112), "motion": "r2plus1d_18", "divisor": 8,
                    "base_width": 64},
    "slow_r50": {"cpu": (2, 8, 112), "cuda": (64, 8, 224), "motion": "slow_r50_t1", "divisor": 8, "base_width": 64},
    "slow_r50_modist": {"cpu": (2, 8, 112), "cuda": (64, 8, 224), "motion": "slow_r50_t1", "divisor": 8,
                        "base_width": 64},
}


@dataclass
class StepTiming:
    arch: str
    mode: str
    batch: int
    frames: int
    size: int
    seconds_per_step: float
    cpu_seconds_per_step: float  # process CPU time: what the step costs when other programs share the cores
    peak_memory_gb: float
    flops_per_step: float

    @property
    def clips_per_sec(self) -> float:
        return self.batch / self.seconds_per_step

    @property
    def tflops(self) -> float:
        return self.flops_per_step / self.seconds_per_step / 1e12


@dataclass(frozen=True)
class TrainBenchSettings:
    archs: tuple[str, ...] = ("slow_r50", "r3d_18", "r3d_tiny")  # visual backbones, keys of ARCH_DEFAULTS
    batch: int = 0  # clips per step; 0: per arch and device
    frames: int = 0  # frames per clip; 0: per arch and device
    size: int = 0  # crop size; 0: per arch and device
    queue_size: int = 65536
    steps: int = 5  # timed steps
    warmup: int = 2  # untimed steps first
    compile: bool = False  # also time with torch.compile of every pathway
    eager: bool = True  # time the eager step (off only with compile)
    device: str = "auto"
    precision: str = ""  # autocast precision; "": bf16 on CUDA, fp32 elsewhere
    channels_last: str = "auto"  # "auto" (on for CUDA), "on" or "off"
    optimizer: str = "sgd"
    cross_view: str = ""  # cross-modal key from the "same" or the "other" clip; "": the config's
    threads: int = 0  # torch CPU threads; 0: torch's default
    peak_tflops: float = 0.0  # device peak for the utilisation column; 0: known GPUs, else n/a


@dataclass
class TrainBenchPlan:
    """The settings resolved for this machine: what will be timed, before timing it."""

    settings: TrainBenchSettings
    device: torch.device
    device_name: str
    precision: str
    channels_last: bool
    compiled: tuple[bool, ...]  # one measurement per arch and entry: eager (False) and/or compiled (True)
    peak_tflops: float | None
    cross_view: str

    def describe(self) -> str:
        s = self.settings
        return (f"device: {self.device_name}; precision {self.precision}; "
                f"channels_last_3d {'on' if self.channels_last else 'off'}; "
                f"queue {s.queue_size}; cross-modal keys of the {self.cross_view} clip; "
                f"{s.warmup} warm-up + {s.steps} timed steps; "
                f"peak {f'{self.peak_tflops:g} TFLOP/s' if self.peak_tflops else 'n/a'}")


@dataclass
class TrainBenchResult:
    plan: TrainBenchPlan
    rows: list[StepTiming] = field(default_factory=list)

    @property
    def fastest(self) -> StepTiming:
        return max(self.rows, key=lambda r: r.clips_per_sec)

    def markdown(self) -> str:
        peak = self.plan.peak_tflops
        mem = "peak alloc (GB)" if self.plan.device.type == "cuda" else "peak RSS (GB)"
        lines = [f"| arch (+ motion) | mode | batch | input | clips/s | step (ms) | CPU (ms) | {mem} | GFLOP/step | "
                 "TFLOP/s | MFU |",
                 "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in self.rows:
            motion = f"{ARCH_DEFAULTS[r.arch]['motion']}/{ARCH_DEFAULTS[r.arch]['divisor']}"
            mfu = f"{100 * r.tflops / peak:.1f}%" if peak else "n/a"
            lines.append(f"| {r.arch} (+ {motion}) | {r.mode} | {r.batch} | {r.frames}x{r.size}x{r.size} | "
                         f"{r.clips_per_sec:.1f} | {1000 * r.seconds_per_step:.0f} | "
                         f"{1000 * r.cpu_seconds_per_step:.0f} | {r.peak_memory_gb:.2f} | "
                         f"{r.flops_per_step / 1e9:.3f} | {r.tflops:.3g} | {mfu} |")
        return "\n".join(lines) + "\n"


def _peak_tflops(device: torch.device, precision: str, override: float) -> float | None:
    if override > 0:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for fragment, peaks in PEAK_TFLOPS.items():
        if fragment in name:
            return peaks[precision]
    return None


def _reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        try:  # Linux: writing 5 resets the peak resident set (VmHWM) of this process
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass


def _peak_memory_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1e9
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _config(arch: str, queue_size: int, precision: str, channels_last: bool, optimizer: str, cross_view: str):
    d = ARCH_DEFAULTS[arch]
    return load_config(None, ([f"method.cross_view={cross_view}"] if cross_view else []) + [
        f"model.arch={arch}", f"model.motion_arch={d['motion']}", f"model.motion_width_divisor={d['divisor']}",
        f"model.base_width={d['base_width']}", "model.proj_hidden=2048", "model.embed_dim=128",
        "method.name=modist", "method.weight_mm=1.0", f"method.queue_size={queue_size}",
        f"optim.name={optimizer}", "optim.lr=0.03", f"train.precision={precision}",
        f"train.channels_last={str(channels_last).lower()}",
    ])


def measure(arch: str, batch: int, frames: int, size: int, device: torch.device, *, compiled: bool = False,
            queue_size: int = 65536, precision: str = "fp32", channels_last: bool = False, optimizer: str = "sgd",
            steps: int = 5, warmup: int = 2, cross_view: str = "") -> StepTiming:
    """Time the full MoDist training step of ``arch`` on random clips."""
    cfg = _config(arch, queue_size, precision, channels_last, optimizer, cross_view)
    torch.manual_seed(0)
    method = build_training_method(cfg, num_classes=0, device=device, distributed=False).train()
    c = motion_channels(cfg.motion.encoding)
    rgb = torch.randn(2, batch, 3, frames, size, size, device=device)
    motion = torch.randn(2, batch, c, frames, size, size, device=device)
    if channels_last:
        rgb, motion = channels_last_views(rgb), channels_last_views(motion)
    labels = torch.full((batch,), -1, device=device)

    def one_batch() -> Batch:
        return Batch(rgb, motion, labels)

    # FLOPs of one step, counted on an eager copy (compiling does not change the arithmetic).
    counted = copy.deepcopy(method)
    count_step = TrainStep(counted, build_optimizer(cfg.optim, counted.learnable_params, cfg.optim.lr),
                           total_steps=1 << 30, precision=precision, device=device)
    with FlopCounterMode(display=False) as counter:
        count_step([one_batch()], 0)
    flops = float(counter.get_total_flops())
    del counted, count_step
    gc.collect()

    if compiled:
        compile_networks(method)
    opt = build_optimizer(cfg.optim, method.learnable_params, cfg.optim.lr)
    step = TrainStep(method, opt, total_steps=1 << 30, precision=precision, device=device)
    for i in range(warmup):
        step([one_batch()], i)
    _sync(device)
    _reset_peak_memory(device)
    start, cpu_start = time.perf_counter(), time.process_time()
    for i in range(steps):
        step([one_batch()], warmup + i)
    _sync(device)
    seconds = (time.perf_counter() - start) / steps
    cpu_seconds = (time.process_time() - cpu_start) / steps
    timing = StepTiming(arch, "compile" if compiled else "eager", batch, frames, size, seconds, cpu_seconds,
                        _peak_memory_gb(device), flops)
    del method, step, opt
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return timing


def plan_train_bench(settings: TrainBenchSettings) -> TrainBenchPlan:
    """Check ``settings`` and resolve device, precision and layout (cheap: nothing is built)."""
    for arch in settings.archs:
        if arch not in ARCH_DEFAULTS:
            raise ConfigError(f"unknown arch {arch!r}; choose from {', '.join(ARCH_DEFAULTS)}")
    if not settings.archs:
        raise ConfigError(f"no arch given; choose from {', '.join(ARCH_DEFAULTS)}")
    if not settings.eager and not settings.compile:
        raise ConfigError("nothing to time: the eager step is off and compile is not on")
    device = resolve_device(settings.device, flag="device")
    if settings.threads > 0:
        torch.set_num_threads(settings.threads)
    precision = settings.precision or ("bf16" if device.type == "cuda" else "fp32")
    channels_last = settings.channels_last == "on" or (settings.channels_last == "auto" and device.type == "cuda")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} thread(s)"
    cross_view = settings.cross_view or _config(settings.archs[0], settings.queue_size, precision, False, "sgd",
                                                "").method.cross_view
    return TrainBenchPlan(settings, device, name, precision, channels_last,
                          ((False,) if settings.eager else ()) + ((True,) if settings.compile else ()),
                          _peak_tflops(device, precision, settings.peak_tflops), cross_view)


def run_train_bench(plan: TrainBenchPlan) -> TrainBenchResult:
    """Time the training step of every arch of the plan, eagerly and/or compiled."""
    s = plan.settings
    result = TrainBenchResult(plan)
    for arch, compiled in tqdm([(a, m) for a in s.archs for m in plan.compiled], desc="bench train", leave=False):
        b, t, size = ARCH_DEFAULTS[arch]["cuda" if plan.device.type == "cuda" else "cpu"]
        result.rows.append(measure(arch, s.batch or b, s.frames or t, s.size or size, plan.device, compiled=compiled,
                                   queue_size=s.queue_size, precision=plan.precision,
                                   channels_last=plan.channels_last, optimizer=s.optimizer, steps=s.steps,
                                   warmup=s.warmup, cross_view=s.cross_view))
    return result
