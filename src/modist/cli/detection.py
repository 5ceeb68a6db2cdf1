"""``modist eval ava-map`` and ``modist eval detect``: AVA-style action detection.

Example:
    modist eval ava-map --gt ava_val_v2.2.csv --pred predictions.csv \\
        --labels ava_action_list_v2.2_for_activitynet_2019.pbtxt --exclusions ava_val_excluded_timestamps_v2.2.csv
    modist eval detect --checkpoint runs/modist --dataset synth-det:data/synth_det
    modist eval detect --checkpoint runs/modist --dataset ava:/data/ava --finetune
"""

from __future__ import annotations

import argparse


def ava_map_arguments(q: argparse.ArgumentParser, name: str, text: str) -> None:
    """The options of ``eval ava-map``."""
    q.description = text + "; writes results.json and results.md to --out."
    q.add_argument("--gt", required=True, help="annotation CSV (video_id,timestamp,x1,y1,x2,y2,action_id,person_id)")
    q.add_argument("--pred", required=True, help="prediction CSV (video_id,timestamp,x1,y1,x2,y2,action_id,score)")
    q.add_argument("--labels", required=True, help="action list .pbtxt: the evaluated classes")
    q.add_argument("--exclusions", help="excluded-timestamps CSV (video_id,timestamp)")
    q.add_argument("--only-gt-keyframes", action="store_true",
                   help="ignore detections on keyframes the --gt file does not list (ActivityNet's code since "
                        "April 2020); default: they are false positives, as in its 2019 code and PySlowFast's")
    q.add_argument("--protocol", choices=("activitynet", "pyslowfast"), default="activitynet",
                   help="activitynet (default): the official get_ava_performance.py, at most 50 rows per keyframe "
                        "matched by score; pyslowfast: PySlowFast's copy, every row matched in file order")
    q.add_argument("--out", help="output folder (default: ava_map/ beside --pred)")
    q.set_defaults(func=run_ava_map)


def detect_arguments(q: argparse.ArgumentParser, name: str, text: str) -> None:
    """The options of ``eval detect``."""
    q.description = text + " (results.json, results.md, predictions.csv, boxes.png in --out)."
    q.add_argument("--checkpoint", required=True, help="run directory or encoder.safetensors")
    q.add_argument("--dataset", required=True, help="ava:ROOT or synth-det:DIR (see docs/detection.md)")
    q.add_argument("--finetune", action="store_true", help="train the backbone too (default: frozen backbone)")
    q.add_argument("--dilate-last-stage", action=argparse.BooleanOptionalAction, default=True,
                   help="last stage at spatial stride 1 with dilation 2 (SlowFast's AVA backbone; same weights; "
                        "default on)")
    q.add_argument("--train-split", default="train")
    q.add_argument("--test-split", default="val")
    q.add_argument("--epochs", type=int, default=10, help="passes over the training keyframes (default 10)")
    q.add_argument("--lr", type=float,
                   help="peak SGD learning rate (default 0.1 for the frozen head, 0.01 with --finetune)")
    q.add_argument("--batch-size", type=int, default=8, help="keyframes per step (default 8)")
    q.add_argument("--proposal-threshold", type=float, default=0.8,
                   help="test on proposals scoring at least this (default 0.8, the SlowFast AVA setting)")
    q.add_argument("--proposals", help="proposals file for the test split (default: the dataset's)")
    q.add_argument("--allow-pickle-proposals", action="store_true",
                   help="read .pkl proposal files; unpickling runs code stored in the file, so only for "
                        "files from a trusted source")
    q.add_argument("--clip-frames", type=int, help="frames per clip (default: the encoder's)")
    q.add_argument("--stride", type=int, help="frame stride within a clip (default: the encoder's)")
    q.add_argument("--input-size", type=int,
                   help="frame side each clip is resized to (default: a synth-det benchmark's own frame size, "
                        "else the encoder's crop size)")
    q.add_argument("--max-steps", type=int, help="stop after this many steps (smoke tests)")
    q.add_argument("--out", help="output folder (default: <run dir>/eval_detect)")
    q.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    q.add_argument("--seed", type=int, default=0)
    q.set_defaults(func=run_detect)


def run_ava_map(args: argparse.Namespace) -> int:
    from pathlib import Path

    from modist.atomic import write_json, write_text
    from modist.evaluation.ava_map import evaluate_files

    result = evaluate_files(args.gt, args.pred, args.labels, exclusions=args.exclusions,
                            only_gt_keyframes=args.only_gt_keyframes, protocol=args.protocol)
    # A subfolder: the prediction file often sits beside the results.json of the run that wrote it.
    out = Path(args.out) if args.out else Path(args.pred).resolve().parent / "ava_map"
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", result.to_json())
    table = result.table()
    write_text(out / "results.md", table + "\n")
    print(table)
    print(f"results in {out / 'results.json'}")
    return 0


def run_detect(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from modist.errors import ConfigError
    from modist.evaluation.detection import DetectRecipe, run_detection
    from modist.evaluation.encoder import load_eval_encoder
    from modist.runtime import resolve_device

    resolve_device(args.device, flag="--device")  # a bad --device fails here, before any work
    for key in ("epochs", "batch_size", "clip_frames", "stride", "input_size", "max_steps"):
        value = getattr(args, key)
        if value is not None and value < 1:
            raise ConfigError(f"--{key.replace('_', '-')} must be >= 1, got {value}")
    if not 0 <= args.proposal_threshold <= 1:
        raise ConfigError(f"--proposal-threshold must be in [0, 1], got {args.proposal_threshold}")
    torch.manual_seed(args.seed)
    enc = load_eval_encoder(args.checkpoint).with_overrides(clip_frames=args.clip_frames, stride=args.stride)
    ckpt = Path(args.checkpoint)
    out = Path(args.out) if args.out else (ckpt if ckpt.is_dir() else ckpt.parent) / "eval_detect"
    recipe = DetectRecipe(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, finetune=args.finetune,
                          proposal_threshold=args.proposal_threshold, dilate=args.dilate_last_stage,
                          max_steps=args.max_steps, seed=args.seed, input_size=args.input_size)
    result = run_detection(enc, args.dataset, recipe, out=out, train_split=args.train_split,
                           test_split=args.test_split, proposals=args.proposals,
                           allow_pickle=args.allow_pickle_proposals,
                           device=args.device)
    print(result.table())
    print(f"{'finetuned' if args.finetune else 'frozen-backbone'} detection: frame-mAP@0.5 "
          f"{100 * result.mean_ap:.2f}; results in {out}")
    return 0
