"""``modist explain`` (saliency overlays) and ``modist eval saliency|probe`` (their numbers).

Example:
    modist explain --checkpoint runs/modist --checkpoint runs/rgb_only --input synth:data/synth --out explain/
    modist explain --checkpoint runs/modist --input clip.mp4 --out explain/ --clips 3
    modist eval saliency --checkpoint runs/modist --dataset synth:data/synth --map gradient
    modist eval probe --task arrow --checkpoint runs/modist --dataset synth:data/synth
"""

from __future__ import annotations

import argparse

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".gif")


def _device_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default 0: torch's choice)")
    p.add_argument("--seed", type=int, default=0, help="video subset, probe split and bootstrap seed (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Spatio-temporal saliency of one or more encoders on a video or a dataset: a GIF per clip "
                          "(frame | heat overlay) and a PNG contact sheet with the encoders side by side.")
    p = parser
    p.add_argument("--checkpoint", action="append", required=True,
                   help="run directory or encoder.safetensors; repeat to compare encoders on the same clips")
    p.add_argument("--label", action="append", help="column name per --checkpoint (default: the run folder's name)")
    p.add_argument("--input", action="append", required=True,
                   help="a video file, or a dataset spec (synth:DIR, a folder, ...); repeat to mix inputs")
    p.add_argument("--split", help="dataset split (default: test_unbiased for synth, test otherwise)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--max-videos", type=int, default=4,
                   help="videos per dataset input, a seeded random subset (default 4)")
    p.add_argument("--clips", type=int, default=1, help="uniformly spaced clips per video (default 1)")
    p.add_argument("--map", choices=("activation", "gradient", "both"), default="both",
                   help="activation norm, Grad-CAM towards the clip's positive, or both (default)")
    p.add_argument("--classifier", action="append",
                   help="finetuned.safetensors (modist eval finetune) per --checkpoint, in order, or 'none': adds "
                        "Grad-CAM towards the finetuned model's predicted class")
    p.add_argument("--fps", type=float, default=4.0, help="GIF frame rate (default 4)")
    p.add_argument("--scale", type=int, default=0, help="GIF pixel repeat (default 0: to at least 128 px)")
    _device_flags(p)
    p.set_defaults(func=run)


def add_eval_subcommands(sub) -> None:
    """``eval saliency`` and ``eval probe`` (called by :mod:`modist.cli.evaluate`)."""
    from modist.evaluation.probes import TASKS

    text = "foreground lift and pointing game of saliency on synthetic actor masks"
    q = sub.add_parser("saliency", help=text, description=text.capitalize() + " (95% bootstrap over videos).")
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
    _device_flags(q)
    q.set_defaults(func=run_saliency)
    text = "motion-awareness probe on unlabeled video: arrow of time, playback speed, static vs moving"
    q = sub.add_parser("probe", help=text, description=text.capitalize() + " (linear probe on frozen features).")
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
    _device_flags(q)
    q.set_defaults(func=run_probe)


def _setup(args: argparse.Namespace):
    import torch

    from modist.errors import ConfigError
    from modist.runtime import resolve_device

    for key in ("max_videos", "clips", "scale", "epochs", "fps", "lr"):
        value = getattr(args, key, None)
        if value is not None and value <= 0 and not (key == "scale" and value == 0):
            raise ConfigError(f"--{key.replace('_', '-')} must be positive, got {value}")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    return resolve_device(args.device, flag="--device")


def _subset(records: list, n: int | None, seed: int) -> list:
    import numpy as np

    if n is None or n >= len(records):
        return records
    return [records[i] for i in np.sort(np.random.default_rng(seed).choice(len(records), n, replace=False))]


def _records(spec: str, split: str | None, *, default_split: str) -> tuple[list, str]:
    """Records of a video file or dataset spec, and a name for them."""
    from pathlib import Path

    from modist.data.adapters import parse_spec, resolve_dataset
    from modist.data.records import VideoRecord
    from modist.errors import DataError

    path = Path(spec).expanduser()
    if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
        return [VideoRecord(str(path))], path.name
    kind = parse_spec(spec)[0]
    split = split or ("test_unbiased" if kind == "synth" else default_split)
    dataset = resolve_dataset(spec, split)
    if not dataset.records:
        raise DataError(f"{spec}: no readable videos in split {split!r}")
    return dataset.records, f"{spec} ({split})"


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


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    import numpy as np
    from tqdm.auto import tqdm

    from modist.atomic import write_json
    from modist.errors import ConfigError, VideoReadError
    from modist.evaluation.encoder import load_eval_encoder
    from modist.evaluation.saliency import MAPS, explain_video, finetuned_classifier
    from modist.viz.saliency import contact_sheet, heat_overlay, save_gif, side_by_side

    device = _setup(args)
    if args.label and len(args.label) != len(args.checkpoint):
        raise ConfigError(f"--label given {len(args.label)} time(s) for {len(args.checkpoint)} --checkpoint")
    labels = args.label or [Path(c).name if Path(c).is_dir() else Path(c).parent.name for c in args.checkpoint]
    if len(set(labels)) != len(labels):
        raise ConfigError("--checkpoint folders share a name; tell them apart with --label")
    maps = MAPS if args.map == "both" else (args.map,)
    if args.classifier and len(args.classifier) != len(args.checkpoint):
        raise ConfigError(f"--classifier given {len(args.classifier)} time(s) for {len(args.checkpoint)} "
                          "--checkpoint (use 'none' for a checkpoint without one)")
    records, names = [], []
    for spec in args.input:
        found, name = _records(spec, args.split, default_split="test")
        records += _subset(found, args.max_videos, args.seed)
        names.append(name)
    encoders = [load_eval_encoder(c) for c in args.checkpoint]
    classifiers = [None if c in (None, "none") else finetuned_classifier(enc, c)
                   for enc, c in zip(encoders, args.classifier or [None] * len(encoders))]
    out = Path(args.out)
    t0 = time.perf_counter()
    frames_col: list[np.ndarray] = []
    row_labels: list[str] = []
    columns: dict[str, list[np.ndarray]] = {}
    files: list[str] = []
    skipped = 0
    for record in tqdm(records, desc="explain", disable=args.no_progress, leave=False):
        stem = Path(record.path).stem
        try:
            per_encoder = [explain_video(enc, record, maps=maps, num_clips=args.clips, device=device)
                           for enc in encoders]
            for clips, classifier in zip(per_encoder, classifiers):
                if classifier is not None:
                    tuned, score = classifier
                    for clip, c in zip(clips, explain_video(tuned, record, maps=("class",), classifier=score,
                                                            num_clips=args.clips, device=device)):
                        clip.maps["class"] = c.maps["class"]
        except VideoReadError:
            skipped += 1
            continue
        for k in range(args.clips):
            mid = per_encoder[0][k].frames.shape[0] // 2
            frames_col.append(per_encoder[0][k].frames[mid])
            row_labels.append(f"{stem[:18]} #{k}")
            for label, clips in zip(labels, per_encoder):
                clip = clips[k]
                scale = args.scale or max(1, -(-128 // clip.frames.shape[1]))
                for m in clip.maps:
                    path = out / label / f"{stem}_clip{k}_{m}.gif"
                    save_gif(side_by_side(clip.frames, clip.maps[m]), path, fps=args.fps, scale=scale)
                    files.append(str(path))
                    column = label if len(clip.maps) == 1 else f"{label}\n{m}"
                    columns.setdefault(column, []).append(heat_overlay(clip.frames, clip.maps[m])[mid])
    if not frames_col:
        raise VideoReadError(f"{', '.join(args.input)}: none of the {len(records)} video(s) could be read")
    sheet = out / "contact_sheet.png"
    contact_sheet(frames_col, columns, sheet, row_labels=row_labels)
    all_maps = [*maps, *(["class"] if any(classifiers) else [])]
    write_json(out / "explain.json", {"inputs": names, "checkpoints": dict(zip(labels, args.checkpoint)),
                                      "maps": all_maps, "clips_per_video": args.clips, "gifs": files,
                                      "contact_sheet": str(sheet), "skipped_unreadable": skipped})
    print(f"explained {len(frames_col)} clip(s) of {len(records) - skipped} video(s) with {len(encoders)} "
          f"encoder(s) in {time.perf_counter() - t0:.0f} s; skipped {skipped} unreadable video(s); "
          f"{len(files)} GIFs and {sheet}")
    return 0


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

    device = _setup(args)
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
    from modist.evaluation.linear_probe import LinearRecipe
    from modist.evaluation.probes import run_probe as probe

    device = _setup(args)
    records, name = _records(args.dataset, args.split, default_split="train")
    records = _subset(records, args.max_videos, args.seed)
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
