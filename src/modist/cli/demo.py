"""``modist demo``: MoDist vs baselines on the built-in synthetic benchmark, with validity checks."""

from __future__ import annotations

import argparse
import time

from modist.demo import ARMS, DEMO_METHODS, STUDIES


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = ("End-to-end MoDist on the built-in synthetic motion benchmark: MoDist, RGB-only, "
                          "and three validity checks (supervised ceiling, motion teacher, scene shortcut), "
                          "each evaluated as `modist eval` does.")
    parser.add_argument("--out", default="demo_out", help="output directory (default: demo_out)")
    parser.add_argument("--quick", action="store_true",
                        help="pipeline check on tiny data (about 2 minutes on 2 CPU cores); its numbers mean nothing")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--seeds", type=int, default=1, help="number of seeds to average over (default 1)")
    parser.add_argument("--methods", default=",".join(DEMO_METHODS),
                        help=f"comma-separated arms from {', '.join(ARMS)} (default: {','.join(DEMO_METHODS)})")
    parser.add_argument("--study", choices=tuple(STUDIES),
                        help="run a set of arms instead of --methods: " + "; ".join(
                            f"{k}: {','.join(v)}" for k, v in STUDIES.items()))
    parser.add_argument("--steps", type=int, default=None, help="training steps per method (overrides the budget)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace earlier runs in --out made with other settings (same settings resume)")
    parser.add_argument("--detection", nargs="?", const="frozen", choices=("frozen", "both"),
                        help="also score every RGB encoder on a synthetic action-detection benchmark (data_det/ in "
                             "--out; RoI head, frame-mAP@0.5): 'frozen' (the default when given alone) on both test "
                             "splits, about 40 s a run on 2 CPU cores; 'both' also finetunes on test_unbiased, "
                             "about 3 min more a run")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides applied to every run")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from modist.demo.run import run_demo
    from modist.errors import ConfigError

    start = time.perf_counter()
    methods = STUDIES[args.study] if args.study else tuple(m.strip() for m in args.methods.split(",") if m.strip())
    if args.seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {args.seeds}")
    seeds = tuple(range(args.seed, args.seed + args.seeds))
    overrides = [*args.overrides, *(["train.overwrite=true"] if args.overwrite else [])]
    _, report = run_demo(args.out, quick=args.quick, seeds=seeds, methods=methods, device=args.device,
                         steps=args.steps, overrides=overrides, detection=args.detection)
    print()
    print(report)
    print(f"demo finished in {time.perf_counter() - start:.0f} s; results in {args.out}/results.md and results.json")
    return 0
