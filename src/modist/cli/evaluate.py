"""``modist eval PROTOCOL``: downstream evaluation of an encoder (linear, knn, retrieval, all, finetune, ...).

Every subcommand is a row of ``SUBCOMMANDS``: ``saliency`` and ``probe`` live in
:mod:`modist.cli.probes`, ``ava-map`` and ``detect`` in :mod:`modist.cli.detection`.

``linear`` and ``finetune`` run under a named protocol (``--protocol``, a preset of every
value; :mod:`modist.evaluation.presets`): ``modist`` (default) or ``maclr``, the authors'
release. An option given on the command line overrides that one value of the protocol;
``results.json`` and ``results.md`` name the protocol and list every value used.

Example:
    modist eval all --checkpoint runs/modist --dataset synth:data/synth --out runs/modist/eval
    modist eval linear --checkpoint runs/modist --dataset ucf101:/data/UCF101 --fold 1
    modist eval linear --protocol maclr --checkpoint runs/modist --dataset ucf101:/data/UCF101
    modist eval finetune --checkpoint runs/modist --dataset hmdb51:/data/HMDB51 --epochs 30
    modist eval finetune --protocol maclr --checkpoint runs/modist --dataset ucf101:/data/UCF101 --device cuda
    modist eval finetune --from-scratch --arch r3d_18 --dataset ucf101:/data/UCF101
    modist eval all --checkpoint runs/mine --dataset folder:/path/to/my_videos   # no splits: 30 % held out

A dataset without splits (a folder of class sub-folders, a manifest without a ``split``
column) is evaluated on a seeded, per-class held-out share of its videos (``--test-fraction``,
``--split-seed``); a ``--test-split`` equal to ``--train-split`` needs ``--allow-same-split``.
"""

from __future__ import annotations

import argparse

FROZEN = ("linear", "knn", "retrieval")

# Option (its dest) -> the protocol setting it overrides.
SETTING_OF = {
    "clip_frames": "clip_frames", "stride": "stride", "crop_size": "crop_size", "test_crop_size": "test_crop_size",
    "temporal_views": "temporal_views", "spatial_views": "spatial_views", "epochs": "epochs", "lr": "lr",
    "probe_batch": "batch_size", "train_batch": "batch_size", "weight_decay": "weight_decay",
    "warmup_epochs": "warmup_epochs", "dropout": "dropout", "expand_dataset": "expand_dataset",
    "precise_bn": "precise_bn_batches", "flip": "flip", "average": "average", "k": "k", "temperature": "temperature",
    "ks": "ks",
}
ONLINE_ONLY = ("max_steps", "cache_videos")  # run options of protocols that train on frames
CACHED_ONLY = ("cache_dir", "no_cache")  # run options of protocols on cached features
OVERRIDES = "an option given here overrides that value of the protocol"


def _show(value, none: str = "the encoder's") -> str:
    if value is None:
        return none
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return str(value)


def _default(task: str, key: str, rules: bool = True, none: str = "the encoder's") -> str:
    """'default: the protocol's (modist 30, maclr 10)', from the presets themselves."""
    from modist.evaluation import presets

    having = [name for name in presets.names(task) if key in presets.get(task, name).settings]
    shown = [f"{name} {_show(presets.get(task, name).settings[key].value, none)}" for name in having]
    if len(having) == len(presets.names(task)) == 1:
        text = f"default {shown[0].split(' ', 1)[1]}"
    elif len(having) == 1:
        text = f"--protocol {having[0]} only; default {shown[0].split(' ', 1)[1]}"
    else:
        text = f"default: the protocol's ({', '.join(shown)})"
    if rules:
        kinds = [kind for kind, rule in presets.DATASET_RULES.items() if key in rule]
        text += "".join(f"; {_show(presets.DATASET_RULES[kind][key].value)} on {kind}" for kind in kinds)
    return text


def _common(p: argparse.ArgumentParser, task: str) -> None:
    p.add_argument("--checkpoint", help="run directory or encoder.safetensors")
    p.add_argument("--dataset", required=True, help="dataset spec, e.g. ucf101:/data/UCF101 or synth:data/synth")
    p.add_argument("--train-split", default="train", help="split the classifier / neighbours come from (default train)")
    p.add_argument("--test-split", default=None,
                   help="comma-separated test splits (default test; synth: test_biased,test_unbiased; "
                        "ssv2: val, its test labels are not public)")
    p.add_argument("--fold", type=int, default=1, help="UCF101/HMDB51 split number (default 1)")
    p.add_argument("--test-fraction", type=float, default=0.3,
                   help="a dataset without splits (a folder of class sub-folders, a manifest without a split "
                        "column): share of each class's videos held out for testing (default 0.3)")
    p.add_argument("--split-seed", type=int, default=0, help="seed of that held-out draw (default 0)")
    p.add_argument("--allow-same-split", action="store_true",
                   help="allow a --test-split equal to --train-split (measures fitting, not generalisation)")
    p.add_argument("--out", help="output directory (default: <run dir>/eval)")
    p.add_argument("--temporal-views", type=int, help=f"clips per test video ({_default(task, 'temporal_views')})")
    p.add_argument("--spatial-views", type=int, help=f"crops per test clip ({_default(task, 'spatial_views')})")
    p.add_argument("--clip-frames", type=int, help=f"frames per clip ({_default(task, 'clip_frames')})")
    p.add_argument("--stride", type=int, help=f"frame stride within a clip ({_default(task, 'stride')})")
    p.add_argument("--crop-size", type=int, help=f"crop side in pixels ({_default(task, 'crop_size')})")
    p.add_argument("--batch-size", type=int, default=8, help="videos per test / feature batch (default 8)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    p.add_argument("--workers", type=int, default=0, help="data-loading processes (default 0)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default 0: torch's choice)")
    p.add_argument("--seed", type=int, default=0, help="seed of the probe / finetuning run")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _protocol_option(p: argparse.ArgumentParser, task: str) -> None:
    from modist.evaluation import presets

    p.add_argument("--protocol", dest="preset", choices=presets.names(task), default=presets.DEFAULT,
                   help="named protocol: a preset of every value (modist: fast, for everyday use; maclr: the "
                        f"authors' release, value for value); {OVERRIDES} (default {presets.DEFAULT})")


def _online_options(p: argparse.ArgumentParser, task: str) -> None:
    """Options of protocols that train on frames: finetune, and linear under --protocol maclr."""
    p.add_argument("--expand-dataset", type=int,
                   help=f"visits of every training video per epoch ({_default(task, 'expand_dataset')})")
    p.add_argument("--warmup-epochs", type=float, help=f"learning-rate warm-up ({_default(task, 'warmup_epochs')})")
    p.add_argument("--flip", choices=("auto", "yes", "no"), default="auto",
                   help=f"horizontal flip in training; auto: the protocol's ({_default(task, 'flip')})")
    p.add_argument("--test-crop-size", type=int,
                   help=f"test crop side in pixels ({_default(task, 'test_crop_size', none='the crop size')})")
    p.add_argument("--max-steps", type=int, help="stop after this many steps (smoke tests)")
    p.add_argument("--cache-videos", type=int,
                   help="decoded videos kept in memory across epochs (default 0; small datasets: their count)")


def _frozen_options(p: argparse.ArgumentParser, tasks: tuple[str, ...], online: bool = False) -> None:
    p.add_argument("--cache-dir", help="feature cache folder (default: <run dir>/feature_cache; modist protocol)")
    p.add_argument("--no-cache", action="store_true", help="always recompute features (modist protocol)")
    if "linear" in tasks:
        p.add_argument("--epochs", type=int, help=f"classifier training epochs ({_default('linear', 'epochs')})")
        p.add_argument("--lr", type=float, help=f"learning rate ({_default('linear', 'lr')}; modist: Adam, maclr: SGD)")
        p.add_argument("--probe-batch", type=int,
                       help=f"classifier batch: features or clips ({_default('linear', 'batch_size')})")
        p.add_argument("--weight-decay", type=float, help=f"weight decay ({_default('linear', 'weight_decay')})")
        p.add_argument("--average", choices=("probs", "features"),
                       help="combine test views by averaging class probabilities or features "
                            f"({_default('linear', 'average')})")
        if online:
            _online_options(p, "linear")
    if "knn" in tasks:
        p.add_argument("--k", type=int, help=f"neighbours that vote ({_default('knn', 'k')})")
        p.add_argument("--temperature", type=float, help=f"vote weight exp(sim / T) ({_default('knn', 'temperature')})")
    if "retrieval" in tasks:
        p.add_argument("--ks", help=f"recall cut-offs ({_default('retrieval', 'ks')})")


def _finetune_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from-scratch", action="store_true",
                   help="random init (supervised baseline); the architecture from --checkpoint or --arch")
    p.add_argument("--arch", default="r3d_tiny", help="backbone for --from-scratch without --checkpoint")
    p.add_argument("--base-width", type=int, default=16, help="backbone width for --from-scratch without --checkpoint")
    p.add_argument("--epochs", type=int, help=f"training epochs ({_default('finetune', 'epochs')})")
    p.add_argument("--lr", type=float, help=f"peak SGD learning rate ({_default('finetune', 'lr')})")
    p.add_argument("--train-batch", type=int, help=f"training clips per step ({_default('finetune', 'batch_size')})")
    p.add_argument("--weight-decay", type=float, help=f"weight decay ({_default('finetune', 'weight_decay')})")
    p.add_argument("--dropout", type=float, help=f"dropout before the classifier ({_default('finetune', 'dropout')})")
    p.add_argument("--precise-bn", type=int,
                   help=f"training batches that recompute BN statistics before testing, 0: off "
                        f"({_default('finetune', 'precise_bn_batches')})")
    _online_options(p, "finetune")


def frozen_arguments(q: argparse.ArgumentParser, name: str, text: str) -> None:
    """The options of ``eval linear|knn|retrieval|all``."""
    q.description = f"{text}. Every value comes from the protocol; {OVERRIDES}."
    _common(q, "linear" if name == "all" else name)
    if name == "linear":
        _protocol_option(q, "linear")
    _frozen_options(q, FROZEN if name == "all" else (name,), online=name == "linear")
    q.set_defaults(func=run)


def finetune_arguments(q: argparse.ArgumentParser, name: str, text: str) -> None:
    """The options of ``eval finetune``."""
    q.description = ("Finetune end to end under a named protocol (--protocol maclr: the release's UCF101 recipe, "
                     f"precise BN included) and test on temporal x spatial views; {OVERRIDES}.")
    _common(q, "finetune")
    _protocol_option(q, "finetune")
    _finetune_options(q)
    q.set_defaults(func=run)


# Every ``modist eval`` subcommand, in --help order: name -> (module of modist.cli, its function
# ``(parser, name, help)`` adding the options and the handler, the one-line help).
SUBCOMMANDS = {
    "linear": ("evaluate", "frozen_arguments",
               "linear probe on frozen features (modist: cached features; maclr: the release's online protocol, "
               "the classifier trained on augmented clips through the frozen backbone)"),
    "knn": ("evaluate", "frozen_arguments", "weighted cosine kNN on frozen features"),
    "retrieval": ("evaluate", "frozen_arguments", "Recall@k of test videos querying the training set"),
    "all": ("evaluate", "frozen_arguments", "linear + knn + retrieval from one set of cached features"),
    "finetune": ("evaluate", "finetune_arguments", "finetune end to end (or train from scratch), multi-view testing"),
    "saliency": ("probes", "saliency_arguments",
                 "foreground lift and pointing game of saliency on synthetic actor masks"),
    "probe": ("probes", "probe_arguments",
              "motion-awareness probe on unlabeled video: arrow of time, playback speed, static vs moving"),
    "ava-map": ("detection", "ava_map_arguments",
                "frame-mAP@0.5 of an AVA prediction CSV, as the official evaluator computes it"),
    "detect": ("detection", "detect_arguments",
               "train an action-detection head on an encoder and report AVA frame-mAP"),
}


def configure(parser: argparse.ArgumentParser) -> None:
    import importlib

    parser.description = ("Downstream evaluation on any dataset adapter; writes results.json, results.md "
                          "and plots to --out. linear and finetune run a named protocol (--protocol); results "
                          "name it and every value it used.")
    sub = parser.add_subparsers(dest="protocol", metavar="PROTOCOL", required=True)
    for name, (module, function, text) in SUBCOMMANDS.items():
        arguments = getattr(importlib.import_module(f"modist.cli.{module}"), function)
        arguments(sub.add_parser(name, help=text), name, text)


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _positive(args: argparse.Namespace, *keys: str) -> None:
    """Flags given (not None) must be >= 1; the error names the flag."""
    from modist.errors import ConfigError

    for key in keys:
        value = getattr(args, key, None)
        if value is not None and value < 1:
            raise ConfigError(f"{_flag(key)} must be >= 1, got {value}")


def _ks(text: str) -> tuple[int, ...]:
    from modist.errors import ConfigError

    try:
        ks = tuple(int(k) for k in text.split(",") if k.strip())
    except ValueError:
        raise ConfigError(f"--ks must be comma-separated integers, got {text!r}") from None
    if not ks or min(ks) < 1:
        raise ConfigError(f"--ks must be positive integers, got {text!r}")
    return ks


def _check_splits(args: argparse.Namespace) -> None:
    """Never test on the training videos unless asked; errors name the flags."""
    from modist.data.adapters.files import canonical_split
    from modist.errors import ConfigError

    if not 0 < args.test_fraction < 1:
        raise ConfigError(f"--test-fraction must be between 0 and 1 (exclusive), got {args.test_fraction}")
    tests = [s.strip() for s in (args.test_split or "").split(",") if s.strip()]
    same = [s for s in tests if canonical_split(s) == canonical_split(args.train_split)]
    if same and not args.allow_same_split:
        raise ConfigError(f"--test-split {same[0]} is the --train-split: the results would be measured on the "
                          "videos the classifier was fitted to; add --allow-same-split to do that anyway")


def _tasks(args: argparse.Namespace) -> tuple[str, ...]:
    return FROZEN if args.protocol == "all" else (args.protocol,)


def _online(args: argparse.Namespace) -> bool:
    """Whether the run trains on frames (finetune, or linear under a protocol that says so)."""
    if args.protocol == "finetune":
        return True
    if args.protocol != "linear":
        return False
    from modist.evaluation import presets

    return presets.get("linear", args.preset).settings["training"].value == "online"


def _settings(args: argparse.Namespace, task: str) -> dict:
    """The protocol's settings for ``task`` with the dataset's rules and the options given; errors name the flag."""
    from modist.data.adapters import parse_spec
    from modist.errors import ConfigError
    from modist.evaluation import presets

    name = getattr(args, "preset", presets.DEFAULT)
    known = presets.get(task, name).settings
    overrides = {}
    for dest, key in SETTING_OF.items():
        value = getattr(args, dest, None)
        if dest == "flip":
            value = {"yes": True, "no": False}.get(value)
        elif dest == "ks" and value is not None:
            value = _ks(value)
        if value is None:
            continue
        if key not in known:
            if args.protocol == "all":  # an option of another of the three tasks
                continue
            raise ConfigError(f"{_flag(dest)} does not apply to eval {args.protocol} --protocol {name}")
        overrides[key] = value
    return presets.resolve(task, name, dataset_kind=parse_spec(args.dataset)[0], overrides=overrides)


def _check_run_options(args: argparse.Namespace) -> None:
    from modist.errors import ConfigError

    online = _online(args)
    name = getattr(args, "preset", "modist")
    for dest in ONLINE_ONLY if not online else CACHED_ONLY:
        if getattr(args, dest, None) not in (None, False):
            kind = "trains on frames" if online else "uses cached features"
            raise ConfigError(f"{_flag(dest)} does not apply to eval {args.protocol} --protocol {name}, "
                              f"which {kind}")


def _encoder(args: argparse.Namespace):
    """The encoder under evaluation as its checkpoint has it, and the output directory."""
    from pathlib import Path

    from modist.errors import ConfigError
    from modist.evaluation.encoder import load_eval_encoder, scratch_encoder

    scratch = getattr(args, "from_scratch", False)
    if not args.checkpoint and not scratch:
        raise ConfigError("--checkpoint is required (or --from-scratch for finetune)")
    if scratch:
        enc = scratch_encoder(args.checkpoint, arch=args.arch, base_width=args.base_width)
    else:
        enc = load_eval_encoder(args.checkpoint)
    if args.checkpoint:
        run_dir = Path(args.checkpoint) if Path(args.checkpoint).is_dir() else Path(args.checkpoint).parent
    else:
        run_dir = Path("runs") / "scratch"
    out = Path(args.out) if args.out else run_dir / ("eval_scratch" if scratch else "eval")
    return enc, out


def _spec(args: argparse.Namespace, values: dict | None = None):
    """The run's data and views; ``values``: the resolved protocol (default: resolved from ``args``)."""
    from modist.evaluation import presets
    from modist.evaluation.runner import EvalSpec
    from modist.runtime import resolve_device

    if values is None:
        values = presets.values(_settings(args, _tasks(args)[0]))
    tests = tuple(s.strip() for s in args.test_split.split(",") if s.strip()) if args.test_split else None
    cache = "" if getattr(args, "no_cache", False) else getattr(args, "cache_dir", None)
    return EvalSpec(args.dataset, train_split=args.train_split, test_splits=tests, fold=args.fold,
                    temporal_views=values["temporal_views"], spatial_views=values["spatial_views"],
                    batch_size=args.batch_size, device=resolve_device(args.device, flag="--device"),
                    cache_dir=cache, num_workers=args.workers, frame_cache=getattr(args, "cache_videos", None) or 0,
                    progress=not args.no_progress, seed=args.seed, test_fraction=args.test_fraction,
                    split_seed=args.split_seed, allow_same_split=args.allow_same_split)


def run(args: argparse.Namespace) -> int:
    import torch

    _positive(args, "temporal_views", "spatial_views", "batch_size", "clip_frames", "stride", "crop_size",
              "test_crop_size", "epochs", "expand_dataset", "probe_batch", "train_batch")
    _check_run_options(args)
    _check_splits(args)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if _online(args):
        return _run_online(args, "finetune" if args.protocol == "finetune" else "linear")
    return _run_frozen(args)


def _given(settings: dict) -> str:
    given = [k for k, s in settings.items() if s.origin == "given"]
    return f" ({', '.join(given)} given)" if given else ""


def _run_frozen(args: argparse.Namespace) -> int:
    from modist.evaluation import presets
    from modist.evaluation.linear_probe import LinearRecipe
    from modist.evaluation.report import write_report
    from modist.evaluation.runner import apply_encoder_values, encoder_values, run_frozen

    tasks = _tasks(args)
    settings = {task: _settings(args, task) for task in tasks}
    values = {task: presets.values(s) for task, s in settings.items()}
    first = values[tasks[0]]
    options = {}
    if "retrieval" in tasks:
        options["ks"] = tuple(values["retrieval"]["ks"])
    if "linear" in tasks:
        v = values["linear"]
        options["linear"] = LinearRecipe(epochs=v["epochs"], lr=v["lr"], batch_size=v["batch_size"],
                                         weight_decay=v["weight_decay"], schedule=v["schedule"], seed=args.seed)
        options["average"] = v["average"]
    if "knn" in tasks:
        options.update(knn_k=values["knn"]["k"], knn_temperature=values["knn"]["temperature"])
    spec = _spec(args, first)
    enc, out = _encoder(args)
    own = encoder_values(enc)
    enc = apply_encoder_values(enc, first)
    results, names, meta = run_frozen(enc, spec, tasks, checkpoint=args.checkpoint, own=own, **options)
    table = write_report(out, results, names, meta)
    skipped = meta["skipped_train"] + sum({r.split: r.skipped for r in results}.values())
    print(table)
    print(f"evaluated {', '.join(tasks)} (protocol {presets.DEFAULT}{_given(settings[tasks[0]])}) on "
          f"{len(spec.resolved_test_splits())} test split(s) in {meta['seconds']:.0f} s; skipped {skipped} unreadable "
          f"video(s); cached features reused for: {', '.join(meta['cache_hits']) or 'none'}; results in {out}")
    _print_split_note(meta)
    return 0


def _print_split_note(meta: dict) -> None:
    if meta.get("split_note"):
        print(f"splits: {meta['split_note']}")


def _run_online(args: argparse.Namespace, task: str) -> int:
    from modist.evaluation import presets
    from modist.evaluation.finetune import FinetuneRecipe, save_finetuned
    from modist.evaluation.report import write_report
    from modist.evaluation.runner import apply_encoder_values, encoder_values, run_finetune

    settings = _settings(args, task)
    values = presets.values(settings)
    recipe = FinetuneRecipe.from_values(values, max_steps=args.max_steps, seed=args.seed)
    spec = _spec(args, values)
    enc, out = _encoder(args)
    own = encoder_values(enc)
    enc = apply_encoder_values(enc, values)
    result, names, meta = run_finetune(enc, spec, recipe, checkpoint=args.checkpoint, protocol=args.preset, own=own)
    table = write_report(out, list(result.splits.values()), names, meta, history=result.history)
    if task == "finetune":
        save_finetuned(out, result)
    print(table)
    last = result.history[-5:]
    acc = sum(h["train_acc"] for h in last) / max(len(last), 1)
    what = "finetuned" if task == "finetune" else "trained the linear classifier on"
    print(f"{what} {'from scratch' if enc.weights is None else args.checkpoint} for {len(result.history)} steps "
          f"(protocol {args.preset}{_given(settings)}) in {meta['seconds']:.0f} s (train acc over the last 5 steps "
          f"{100 * acc:.1f}%); skipped {result.skipped_train} unreadable training clip(s); results in {out}")
    _print_split_note(meta)
    return 0
