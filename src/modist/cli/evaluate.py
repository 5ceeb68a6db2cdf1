"""``modist eval {linear,knn,retrieval,all,finetune,saliency,probe}``: downstream evaluation of an encoder.

``saliency`` and ``probe`` live in :mod:`modist.cli.explain`.

Example:
    modist eval all --checkpoint runs/modist --dataset synth:data/synth --out runs/modist/eval
    modist eval linear --checkpoint runs/modist --dataset ucf101:/data/UCF101 --fold 1
    modist eval finetune --checkpoint runs/modist --dataset hmdb51:/data/HMDB51 --epochs 30
    modist eval finetune --from-scratch --arch r3d_18 --dataset ucf101:/data/UCF101
"""

from __future__ import annotations

import argparse

FROZEN = ("linear", "knn", "retrieval")


def _common(p: argparse.ArgumentParser, temporal: int, spatial: int) -> None:
    p.add_argument("--checkpoint", help="run directory or encoder.safetensors")
    p.add_argument("--dataset", required=True, help="dataset spec, e.g. ucf101:/data/UCF101 or synth:data/synth")
    p.add_argument("--train-split", default="train", help="split the classifier / neighbours come from (default train)")
    p.add_argument("--test-split", default=None,
                   help="comma-separated test splits (default test; synth: test_biased,test_unbiased)")
    p.add_argument("--fold", type=int, default=1, help="UCF101/HMDB51 split number (default 1)")
    p.add_argument("--out", help="output directory (default: <run dir>/eval)")
    p.add_argument("--temporal-views", type=int, default=temporal, help=f"clips per video (default {temporal})")
    p.add_argument("--spatial-views", type=int, default=spatial, help=f"crops per clip (default {spatial})")
    p.add_argument("--clip-frames", type=int, help="frames per clip (default: the encoder's)")
    p.add_argument("--stride", type=int, help="frame stride within a clip (default: the encoder's)")
    p.add_argument("--crop-size", type=int, help="crop side in pixels (default: the encoder's)")
    p.add_argument("--batch-size", type=int, default=8, help="videos per batch (default 8)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    p.add_argument("--workers", type=int, default=0, help="data-loading processes (default 0)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default 0: torch's choice)")
    p.add_argument("--seed", type=int, default=0, help="seed of the probe / finetuning run")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _frozen_options(p: argparse.ArgumentParser, protocols: tuple[str, ...]) -> None:
    p.add_argument("--cache-dir", help="feature cache folder (default: <run dir>/feature_cache)")
    p.add_argument("--no-cache", action="store_true", help="always recompute features")
    if "linear" in protocols:
        p.add_argument("--epochs", type=int, default=100, help="linear-probe epochs (default 100)")
        p.add_argument("--lr", type=float, default=0.01, help="linear-probe Adam learning rate (default 0.01)")
        p.add_argument("--probe-batch", type=int, default=256, help="linear-probe batch size (default 256)")
        p.add_argument("--average", choices=("probs", "features"), default="probs",
                       help="combine test views by averaging class probabilities (default) or features")
    if "knn" in protocols:
        p.add_argument("--k", type=int, default=20, help="neighbours that vote (default 20)")
        p.add_argument("--temperature", type=float, default=0.07, help="vote weight exp(sim / T) (default 0.07)")
    if "retrieval" in protocols:
        p.add_argument("--ks", default="1,5,10,20", help="recall cut-offs (default 1,5,10,20)")


def _finetune_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from-scratch", action="store_true",
                   help="random init (supervised baseline); the architecture from --checkpoint or --arch")
    p.add_argument("--arch", default="r3d_tiny", help="backbone for --from-scratch without --checkpoint")
    p.add_argument("--base-width", type=int, default=16, help="backbone width for --from-scratch without --checkpoint")
    p.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    p.add_argument("--lr", type=float, default=0.01, help="peak SGD learning rate (default 0.01)")
    p.add_argument("--train-batch", type=int, default=16, help="training clips per step (default 16)")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--warmup-epochs", type=float, default=2.0)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--flip", choices=("auto", "yes", "no"), default="auto",
                   help="horizontal flip; auto = off for synth (direction defines its classes), on otherwise")
    p.add_argument("--max-steps", type=int, help="stop after this many steps (smoke tests)")
    p.add_argument("--cache-videos", type=int, default=0,
                   help="decoded videos kept in memory across epochs (default 0; small datasets: their count)")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Downstream evaluation on any dataset adapter; writes results.json, results.md "
                          "and plots to --out.")
    sub = parser.add_subparsers(dest="protocol", metavar="PROTOCOL", required=True)
    helps = {"linear": "linear probe on frozen features", "knn": "weighted cosine kNN on frozen features",
             "retrieval": "Recall@k of test videos querying the training set",
             "all": "linear + knn + retrieval from one set of cached features"}
    for name, text in helps.items():
        q = sub.add_parser(name, help=text, description=text)
        _common(q, temporal=10, spatial=1)
        _frozen_options(q, FROZEN if name == "all" else (name,))
        q.set_defaults(func=run)
    q = sub.add_parser("finetune", help="finetune end to end (or train from scratch), multi-view testing",
                       description="Finetune end to end with the MoDist release's recipe and test on "
                                   "temporal x spatial views.")
    _common(q, temporal=10, spatial=3)
    _finetune_options(q)
    q.set_defaults(func=run)
    from modist.cli.explain import add_eval_subcommands

    add_eval_subcommands(sub)
    from modist.cli.detection import add_parsers as add_detection_subcommands

    add_detection_subcommands(sub)


def _positive(args: argparse.Namespace, *keys: str) -> None:
    """Flags given (not None) must be >= 1; the error names the flag."""
    from modist.errors import ConfigError

    for key in keys:
        value = getattr(args, key, None)
        if value is not None and value < 1:
            raise ConfigError(f"--{key.replace('_', '-')} must be >= 1, got {value}")


def _encoder(args: argparse.Namespace):
    """The encoder under evaluation, with the clip flags applied, and the output directory."""
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
    enc = enc.with_overrides(clip_frames=args.clip_frames, stride=args.stride, crop_size=args.crop_size)
    if args.checkpoint:
        run_dir = Path(args.checkpoint) if Path(args.checkpoint).is_dir() else Path(args.checkpoint).parent
    else:
        run_dir = Path("runs") / "scratch"
    out = Path(args.out) if args.out else run_dir / ("eval_scratch" if scratch else "eval")
    return enc, out


def _spec(args: argparse.Namespace):
    from modist.evaluation.runner import EvalSpec
    from modist.runtime import resolve_device

    tests = tuple(s.strip() for s in args.test_split.split(",") if s.strip()) if args.test_split else None
    cache = "" if getattr(args, "no_cache", False) else getattr(args, "cache_dir", None)
    return EvalSpec(args.dataset, train_split=args.train_split, test_splits=tests, fold=args.fold,
                    temporal_views=args.temporal_views, spatial_views=args.spatial_views,
                    batch_size=args.batch_size, device=resolve_device(args.device, flag="--device"),
                    cache_dir=cache, num_workers=args.workers, frame_cache=getattr(args, "cache_videos", 0),
                    progress=not args.no_progress, seed=args.seed)


def run(args: argparse.Namespace) -> int:
    import torch

    _positive(args, "temporal_views", "spatial_views", "batch_size", "clip_frames", "stride", "crop_size")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.protocol == "finetune":
        return _run_finetune(args)
    return _run_frozen(args)


def _ks(text: str) -> tuple[int, ...]:
    from modist.errors import ConfigError

    try:
        ks = tuple(int(k) for k in text.split(",") if k.strip())
    except ValueError:
        raise ConfigError(f"--ks must be comma-separated integers, got {text!r}") from None
    if not ks or min(ks) < 1:
        raise ConfigError(f"--ks must be positive integers, got {text!r}")
    return ks


def _run_frozen(args: argparse.Namespace) -> int:
    from modist.evaluation.linear_probe import LinearRecipe
    from modist.evaluation.report import write_report
    from modist.evaluation.runner import run_frozen

    protocols = FROZEN if args.protocol == "all" else (args.protocol,)
    options = {}
    if "retrieval" in protocols:
        options["ks"] = _ks(args.ks)
    if "linear" in protocols:
        options["linear"] = LinearRecipe(epochs=args.epochs, lr=args.lr, batch_size=args.probe_batch, seed=args.seed)
        options["average"] = args.average
    if "knn" in protocols:
        options.update(knn_k=args.k, knn_temperature=args.temperature)
    spec = _spec(args)
    enc, out = _encoder(args)
    results, names, meta = run_frozen(enc, spec, protocols, checkpoint=args.checkpoint, **options)
    table = write_report(out, results, names, meta)
    skipped = meta["skipped_train"] + sum({r.split: r.skipped for r in results}.values())
    print(table)
    print(f"evaluated {', '.join(protocols)} on {len(spec.resolved_test_splits())} test split(s) in "
          f"{meta['seconds']:.0f} s; skipped {skipped} unreadable video(s); cached features reused for: "
          f"{', '.join(meta['cache_hits']) or 'none'}; results in {out}")
    return 0


def _run_finetune(args: argparse.Namespace) -> int:
    from modist.data.adapters import parse_spec
    from modist.evaluation.finetune import FinetuneRecipe, save_finetuned
    from modist.evaluation.report import write_report
    from modist.evaluation.runner import run_finetune

    flip = {"yes": True, "no": False}.get(args.flip, parse_spec(args.dataset)[0] != "synth")
    recipe = FinetuneRecipe(epochs=args.epochs, batch_size=args.train_batch, lr=args.lr,
                            weight_decay=args.weight_decay, warmup_epochs=args.warmup_epochs, dropout=args.dropout,
                            flip=flip, max_steps=args.max_steps, seed=args.seed)
    spec = _spec(args)
    enc, out = _encoder(args)
    result, names, meta = run_finetune(enc, spec, recipe, checkpoint=args.checkpoint)
    table = write_report(out, list(result.splits.values()), names, meta, history=result.history)
    save_finetuned(out, result)
    print(table)
    last = result.history[-5:]
    acc = sum(h["train_acc"] for h in last) / max(len(last), 1)
    print(f"finetuned {'from scratch' if enc.weights is None else args.checkpoint} for {len(result.history)} steps "
          f"in {meta['seconds']:.0f} s (train acc over the last 5 steps {100 * acc:.1f}%); "
          f"skipped {result.skipped_train} unreadable training clip(s); results in {out}")
    return 0
