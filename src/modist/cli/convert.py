"""``modist convert``: backbone weights from and to PySlowFast, pytorchvideo and mmaction2.

Example:
    modist convert --from pyslowfast maclr.pyth --out runs/maclr            # the MaCLR release's visual pathway
    modist convert --from pyslowfast maclr.pyth --out runs/maclr_motion --pathway motion   # its motion pathway
    modist convert --from pytorchvideo SLOW_8x8_R50.pyth --out runs/slow_sup
    modist convert --from mmaction2 slowonly_r50.pth --out runs/mm --trust-pickle
    modist convert --to pyslowfast runs/maclr --out maclr_modist.pyth        # back into PySlowFast's layout

See docs/interop.md for what each format holds.
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    from modist.models.interop import EXPORT_FORMATS, IMPORT_FORMATS

    parser.description = ("Import a Slow-R50 (or mmaction2 R3D-18) checkpoint of another tool as a modist run "
                          "directory (encoder.safetensors + encoder.json, accepted by every --checkpoint), or "
                          "export a modist encoder in PySlowFast or pytorchvideo layout. Every tensor is mapped; a "
                          "missing, unexpected or mis-shaped one is an error, and nothing is written.")
    direction = parser.add_mutually_exclusive_group(required=True)
    direction.add_argument("--from", dest="source_format", choices=IMPORT_FORMATS,
                           help="import IN, a checkpoint in this format (.pyth/.pth/.pt pickle or .safetensors)")
    direction.add_argument("--to", dest="target_format", choices=EXPORT_FORMATS,
                           help="export IN, a modist run directory or encoder.safetensors, to this format")
    parser.add_argument("input", metavar="IN", help="the checkpoint to import, or the modist run to export")
    parser.add_argument("--out", required=True,
                        help="import: the run directory to write; export: the checkpoint file to write")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="load a pickle that weights-only loading refuses. Unpickling runs code from the file: "
                             "use only for files from a source you trust")
    parser.add_argument("--pathway", choices=("visual", "motion"), default="visual",
                        help="PySlowFast: which pathway of a two-pathway file to import (visual: pathway0, "
                             "motion: pathway1, the width/8 motion pathway); the other is reported as ignored")
    parser.add_argument("--arch", default=None,
                        help="modist preset to build instead of the one inferred (its tensors must fit exactly)")
    parser.add_argument("--clip-frames", type=int, default=None,
                        help="frames per clip recorded for evaluation (MaCLR release: 32 visual, 16 motion, as its "
                             "configs; otherwise 8)")
    parser.add_argument("--stride", type=int, default=None,
                        help="frame stride recorded for evaluation (MaCLR release: 8 visual, 4 motion; otherwise 8)")
    parser.add_argument("--crop-size", type=int, default=None, help="crop size recorded for evaluation (224)")
    parser.add_argument("--conv1-temporal-stride", type=int, default=None,
                        help="temporal stride of the stem convolution, recorded in encoder.json (weights do not "
                             "hold it). MaCLR release visual pathway: 2, as its UCF101 finetune and linear configs "
                             "(RESNET.CONV1_TEMPORAL_STRIDE); otherwise 1")
    parser.add_argument("--force", action="store_true", help="import: replace an encoder already in --out")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from modist.models import interop

    if args.target_format:
        out, spec, count = interop.export_checkpoint(args.input, args.target_format, args.out)
        print(f"exported {count} tensors of the {spec.arch} encoder of {args.input} to {out} "
              f"({args.target_format} layout)")
        stride = spec.conv1_temporal_stride
        if stride != 1:
            setting = ("RESNET.CONV1_TEMPORAL_STRIDE" if args.target_format == "pyslowfast"
                       else "the stem's conv stride")
            print(f"note: the encoder runs with conv1 temporal stride {stride}, which weights do not hold: "
                  f"set {setting} to {stride}")
        return 0
    from pathlib import Path

    from modist.errors import DataError
    from modist.models.encoder_io import WEIGHTS

    if (Path(args.out) / WEIGHTS).exists() and not args.force:
        raise DataError(f"{args.out}: already holds {WEIGHTS}; choose another --out (or --force)")
    conv = interop.import_checkpoint(args.input, args.source_format, args.out,
                                     pathway=1 if args.pathway == "motion" else 0, arch=args.arch,
                                     trust_pickle=args.trust_pickle, clip_frames=args.clip_frames,
                                     stride=args.stride, crop_size=args.crop_size,
                                     conv1_temporal_stride=args.conv1_temporal_stride, overwrite=args.force)
    spec, ev = conv.spec, conv.eval_input
    width = f", width/{spec.width_divisor:g}" if spec.width_divisor != 1 else ""
    where = f" under {conv.prefix!r}" if conv.prefix else ""
    print(f"converted {conv.used} tensors{where} of {args.input} ({args.source_format}) to a {spec.arch}{width} "
          f"{spec.modality} encoder in {args.out}")
    print(conv.ignored_summary())
    if conv.defaulted:
        print(f"the file has no BatchNorm batch counters ({len(conv.defaulted)}, e.g. {conv.defaulted[0]}); "
              "set to 0 (they do not affect outputs)")
    if conv.collapsed_channels:
        n, m = conv.collapsed_channels
        print(f"motion stem: the file's conv1 takes {n} channels (the release feeds flow edges replicated to {n}); "
              f"summed its weight over them into {m} channel, exact for identical channels, so the encoder takes "
              "modist's 1-channel flow_edges")
    given = {"clip_frames": args.clip_frames, "stride": args.stride, "crop_size": args.crop_size,
             "conv1_temporal_stride": args.conv1_temporal_stride}
    chosen = [f"--{k.replace('_', '-')}" for k, v in given.items() if v is not None]
    why = ("as given" if len(chosen) == len(given)
           else f"as {ev.source}" + (f"; given: {', '.join(chosen)}" if chosen else ""))
    print(f"recorded for evaluation in {Path(args.out) / 'encoder.json'}: {ev.clip_frames} frames at stride "
          f"{ev.stride}, {ev.crop_size} px crop, conv1 temporal stride {spec.conv1_temporal_stride}")
    print(f"  {why}; change with --clip-frames, --stride, --crop-size, --conv1-temporal-stride")
    if conv.motion_config is not None:
        shown = ", ".join(f"{k} {v}" for k, v in conv.motion_config.items())
        print(f"wrote {Path(args.out) / 'config.yaml'}: motion {shown} (the release's flow edges: flow from "
              "frame t to frame t-5, Sobel magnitude clamped to 10); flow is estimated with modist's default "
              "estimator, where the release used RAFT")
    for index, count in sorted(conv.other_pathways.items()):
        kind = {0: "visual", 1: "motion"}.get(index)
        hint = f" (the {kind} pathway); import it into another run with --pathway {kind}" if kind else ""
        print(f"the file also holds pathway{index}, {count} tensors{hint}")
    for note in conv.notes:
        print(f"note: {note}")
    return 0
