"""``modist data check DATASET``: can every video be read, and what does the data look like."""

from __future__ import annotations

import argparse

from modist.atomic import write_json

CHECK_HELP = """\
Probe every video of DATASET and decode its first and last frames (--full: every frame);
print counts, min/median/max of duration, fps, size and frame count, every unreadable
file with its reason and every file the annotations list but the disk lacks.

DATASET is kind:ROOT with kind one of folder, manifest, synth, kinetics, ucf101, hmdb51,
ssv2, or a path whose kind is detected (a .csv/.jsonl file is a manifest).

Exit status: 0 every video readable and none missing, 1 otherwise, 2 the dataset itself
cannot be read (missing annotation file, bad spec).
"""


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    check = sub.add_parser(
        "check",
        help="probe and decode every video of a dataset; report unreadable and missing files",
        description=CHECK_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("dataset", metavar="DATASET",
                       help="kind:ROOT (folder, manifest, synth, kinetics, ucf101, hmdb51, ssv2) or a path")
    check.add_argument("--split", default="train", help="split to check (default: train)")
    check.add_argument("--fold", type=int, default=1, help="UCF101/HMDB51 split number 1-3 (default: 1)")
    check.add_argument("--full", action="store_true", help="decode every frame, not just the first and last")
    check.add_argument("--workers", type=int, default=0, help="parallel processes (default: 0, in-process)")
    check.add_argument("--json", metavar="FILE", help="also write the full report (every file) as JSON")
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    from modist.data.adapters import resolve_dataset
    from modist.data.check import check_dataset

    dataset = resolve_dataset(args.dataset, split=args.split, fold=args.fold)
    report = check_dataset(dataset, full=args.full, workers=args.workers, progress=not args.quiet)
    print(report.format())
    if args.json:
        write_json(args.json, report.to_dict())
        print(f"wrote {args.json}")
    return 0 if report.all_readable else 1
