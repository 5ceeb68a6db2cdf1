"""``modist eval saliency`` and ``modist eval probe``: the numbers behind ``modist explain``'s pictures.

Example:
    modist eval saliency --checkpoint runs/modist --dataset synth:data/synth --map gradient
    modist eval probe --task arrow --checkpoint runs/modist --dataset synth:data/synth
"""

from __future__ import annotations

import argparse

from modist.cli.common import device_flags, setup


def saliency_arguments(q: argparse.ArgumentParser, name: str, text: str) -> None:
    """The options of ``eval saliency``."""
    q.description = text.capitalize() + " (95% bootstrap over videos)."
    q.add_argument("--checkpoint", action="append", required=True,
                   help="run directory or encoder.safetensors; repeat (e.g. one per seed) for a mean over them")
    q.add_argument("--dataset", required=True, help="the synthetic benchmark: synth:DIR")
    q.add_argument("--split", default="test_unbiased", help="split (default test_unbiased)")
    q.add_argument("--map", choices=("activation", "gradient"), default="gradient",
                   help="saliency map (default gradient)")
    q.add_argument("--max-videos", type=int, help="a seeded random subset of this many videos (default: all)")
    q.add_argument("--stage", type=int, default=2,
                   help="residual stage whose map is scored, 1-based; 0 = the last (default 2, docs/demo.md)")
    q.add_argument("--min-input", type=int, default=128,
                   help="upscale the crop by an integer factor to at least this many pixels (default 128; "
                        "0 keeps the encoder's crop)")
    q.add_argument("--out", help="output folder (default: <run dir>/eval_saliency_<map>)")
    device_flags(q)
    q.set_defaults(func=run_saliency)


def probe_arguments(q: argparse.ArgumentParser, name: str, text: str) -> None:
    """The options of ``eval probe``."""
    from modist.evaluation.probes import TASKS

    q.description = text.capitalize() + " (linear probe on frozen features)."
    q.add_argument("--task", choices=tuple(TASKS), required=True,
                   help="arrow (forward or reversed; not usable on the built-in synthetic benchmark, whose "
                        "classes come in time-reversed pairs: use real video), speed (1x, 2x, 4x), static "
                        "(moving or one frame repeated)")
    q.add_argument("--checkpoint", action="append", required=True,
                   help="run directory or encoder.safetensors; repeat (e.g. one per seed) for a mean over them")
    q.add_argument("--dataset", required=True, help="dataset spec; labels are not used")
    q.add_argument("--split", help="split (default: test_unbiased for synth, train otherwise)")
    q.add_argument("--max-videos", type=int, help="a seeded random subset of this many videos (default: all)")
    q.add_argument("--epochs", type=int, default=100, help="linear-probe epochs (default 100)")
    q.add_argument("--lr", type=float, default=0.01, help="linear-probe Adam learning rate (default 0.01)")
    q.add_argument("--out", help="output folder (default: <run dir>/eval_probe_<task>)")
    device_flags(q)
    q.set_defaults(func=run_probe)


def _out_dir(args: argparse.Namespace, name: str):
    from pathlib import Path

    from modist.errors import ConfigError

    if args.out:
        return Path(args.out)
    if len(args.checkpoint) > 1:
        raise ConfigError("--out is required with more than one --checkpoint")
    ckpt = Path(args.checkpoint[0])
    return (ckpt if ckpt.is_dir() else ckpt.parent) / name


def _over_checkpoints(values: list[float]) -> dict | None:
    """Mean and 95 % t-interval over checkpoints (seeds), when there are several."""
    from dataclasses import asdict

    from modist.evaluation.intervals import mean_interval

    return asdict(mean_interval(values)) | {"interval": "95% t-interval over checkpoints"} if len(values) > 1 else None


def _print_over(name: str, over: dict | None) -> None:
    if over is not None:
        print(f"{name} over {over['n']} checkpoints: {over['mean']:.3f} +- {over['half_width']:.3f} "
              f"(95% t-interval over checkpoints)")


def _meta(args: argparse.Namespace) -> dict:
    import sys

    return {"checkpoints": [str(c) for c in args.checkpoint], "dataset": args.dataset, "split": args.split,
            "max_videos": args.max_videos, "seed": args.seed, "command": "modist " + " ".join(sys.argv[1:])}


def run_saliency(args: argparse.Namespace) -> int:
    from modist.atomic import write_json
    from modist.data.adapters import parse_spec
    from modist.errors import ConfigError
    from modist.evaluation.encoder import load_eval_encoder
    from modist.evaluation.saliency import saliency_eval

    device = setup(args)
    kind, root = parse_spec(args.dataset)
    if kind != "synth":
        raise ConfigError(f"--dataset {args.dataset}: saliency numbers need the actor masks of the synthetic "
                          "benchmark (synth:DIR)")
    out = _out_dir(args, f"eval_saliency_{args.map}")
    runs, seconds, scored = [], 0.0, 0
    for checkpoint in args.checkpoint:
        enc = load_eval_encoder(checkpoint)
        result = saliency_eval(enc, root, split=args.split, map_kind=args.map, max_videos=args.max_videos,
                               seed=args.seed, device=device, progress=not args.no_progress,
                               stage=args.stage or None, min_input=args.min_input)
        if not result.lift:
            raise ConfigError(f"--dataset {args.dataset}: no video of split {args.split!r} could be scored "
                              f"({result.skipped} skipped)")
        summary = result.summary(seed=args.seed)
        lift, hit = summary["foreground_lift"], summary["pointing_hit_rate"]
        print(f"{checkpoint}: foreground lift {lift['mean']:.3f} [{lift['low']:.3f}, {lift['high']:.3f}] "
              f"(1.0 = no preference), pointing hit rate {hit['mean']:.3f} [{hit['low']:.3f}, {hit['high']:.3f}]; "
              f"skipped {result.skipped}, {result.flat} flat map(s) scored as uniform")
        runs.append({"checkpoint": str(checkpoint), "results": summary, "encoder": enc.settings(), "per_video": {
            "video": result.videos, "foreground_lift": result.lift, "pointing_hit": result.pointing}})
        seconds += result.seconds
        scored += summary["videos"]
    over = {"foreground_lift": _over_checkpoints([r["results"]["foreground_lift"]["mean"] for r in runs]),
            "pointing_hit_rate": _over_checkpoints([r["results"]["pointing_hit_rate"]["mean"] for r in runs])}
    for name, value in over.items():
        _print_over(name.replace("_", " "), value)
    write_json(out / "results.json", {"runs": runs, "over_checkpoints": over, "meta": _meta(args)})
    print(f"{args.map} saliency of {len(runs)} checkpoint(s) on {scored} {args.split} video(s) in {seconds:.0f} s "
          f"(per checkpoint: 95% bootstrap over videos); results in {out}")
    return 0


def run_probe(args: argparse.Namespace) -> int:
    from modist.atomic import write_json
    from modist.evaluation.encoder import load_eval_encoder
    from modist.evaluation.explain import input_records, seeded_subset
    from modist.evaluation.linear_probe import LinearRecipe
    from modist.evaluation.probes import run_probe as probe

    device = setup(args)
    records, name = input_records(args.dataset, args.split, default_split="train")
    records = seeded_subset(records, args.max_videos, args.seed)
    out = _out_dir(args, f"eval_probe_{args.task}")
    recipe = LinearRecipe(epochs=args.epochs, lr=args.lr, seed=args.seed)
    runs, seconds = [], 0.0
    for checkpoint in args.checkpoint:
        enc = load_eval_encoder(checkpoint)
        result = probe(enc, records, args.task, recipe=recipe, seed=args.seed, device=device,
                       progress=not args.no_progress)
        summary = result.summary(seed=args.seed)
        ci = summary["accuracy_interval"]
        print(f"{checkpoint}: {args.task} probe accuracy {result.accuracy:.3f} [{ci['low']:.3f}, {ci['high']:.3f}] "
              f"(chance {result.chance:.3f}); probe-trained on {result.train_videos}, tested on "
              f"{result.test_videos} video(s); skipped {result.skipped_short} too short, "
              f"{result.skipped_unreadable} unreadable")
        runs.append({"checkpoint": str(checkpoint), "results": summary, "encoder": enc.settings()})
        seconds += result.seconds
    over = _over_checkpoints([r["results"]["accuracy"] for r in runs])
    _print_over("accuracy", over)
    write_json(out / "results.json", {"runs": runs, "over_checkpoints": over, "meta": {**_meta(args), "videos": name}})
    print(f"{args.task} probe of {len(runs)} checkpoint(s) on {name} in {seconds:.0f} s "
          f"(per checkpoint: 95% bootstrap over probe-test videos); results in {out}")
    return 0
