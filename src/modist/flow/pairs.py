"""Ground-truth flow pairs for validation: ``pairs.csv`` (Middlebury, Sintel) + stereo pairs.

Stereo pairs become flow pairs with ``left -> right = (-disparity, 0)``; the disparity maps
are at the images' resolution (checked: warping by 1x disparity matches, 0.5x / 2x do not).
Aloe's uint8 disparity uses 0 for unknown; motorcycle's float disparity uses non-finite.
Sintel's ``invalid`` masks (white = masked) are excluded from the valid pixels.

Example:
    >>> import tempfile
    >>> from modist.flow.flo import write_flo
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("a.png", "b.png"):
    ...     _ = cv2.imwrite(str(root / name), np.zeros((8, 12, 3), np.uint8))
    >>> write_flo(root / "ab.flo", np.ones((8, 12, 2), np.float32))
    >>> _ = (root / "pairs.csv").write_text("name,frame0,frame1,flow\\ntoy,a.png,b.png,ab.flo\\n")
    >>> pairs = load_flow_pairs(root)  # no stereo/ folder: the CSV's pairs only
    >>> pairs[0].name, pairs[0].frame0.shape, bool(pairs[0].valid.all())
    ('toy', (8, 12, 3), True)
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from modist.errors import DataError
from modist.flow.flo import read_flo
from modist.flow.metrics import known_flow_mask

STEREO_PAIRS = {
    # name: (left, right, disparity file)
    "stereo/motorcycle": ("motorcycle_left.png", "motorcycle_right.png", "motorcycle_disp.npz"),
    "stereo/aloe": ("aloeL.jpg", "aloeR.jpg", "aloeGT.png"),
}


@dataclass
class FlowPair:
    name: str
    frame0: np.ndarray  # uint8 [H, W, 3] RGB
    frame1: np.ndarray
    gt: np.ndarray  # float32 [H, W, 2]
    valid: np.ndarray  # bool [H, W]: known GT and not masked

    def resized(self, max_side: int) -> FlowPair:
        """Downscale so the longer side is at most ``max_side`` (GT vectors scaled too)."""
        h, w = self.frame0.shape[:2]
        if max(h, w) <= max_side:
            return self
        s = max_side / max(h, w)
        size = (max(1, round(w * s)), max(1, round(h * s)))
        area = cv2.INTER_AREA
        gt = np.where(self.valid[..., None], self.gt, 0.0).astype(np.float32)
        # nearest for GT and mask: averaging across motion boundaries would invent flow
        gt = cv2.resize(gt, size, interpolation=cv2.INTER_NEAREST) * np.float32([size[0] / w, size[1] / h])
        valid = cv2.resize(self.valid.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        return FlowPair(
            f"{self.name}@{max_side}",
            cv2.resize(self.frame0, size, interpolation=area),
            cv2.resize(self.frame1, size, interpolation=area),
            gt,
            valid,
        )


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as uint8 RGB ``[H, W, 3]`` or raise DataError naming it."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"{path}: cannot read image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _read_mask(path: Path) -> np.ndarray:
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise DataError(f"{path}: cannot read mask image")
    return mask > 127


def load_csv_pairs(csv_path: str | os.PathLike) -> list[FlowPair]:
    """Pairs listed in a ``pairs.csv`` (paths relative to the CSV's folder)."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DataError(f"{csv_path}: pairs file not found")
    root = csv_path.parent
    pairs = []
    with open(csv_path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"name", "frame0", "frame1", "flow"} - set(reader.fieldnames or [])
        if missing:
            raise DataError(f"{csv_path}: missing column(s) {', '.join(sorted(missing))}")
        for row in reader:
            gt = read_flo(root / row["flow"])
            valid = known_flow_mask(gt)
            if row.get("invalid_mask"):
                valid &= ~_read_mask(root / row["invalid_mask"])
            frame0, frame1 = read_rgb(root / row["frame0"]), read_rgb(root / row["frame1"])
            pairs.append(FlowPair(row["name"], frame0, frame1, gt, valid))
    return pairs


def load_stereo_pairs(stereo_dir: str | os.PathLike) -> list[FlowPair]:
    """The stereo pairs in ``STEREO_PAIRS`` found in ``stereo_dir`` as flow pairs."""
    stereo_dir = Path(stereo_dir)
    pairs = []
    for name, (left, right, disp_file) in STEREO_PAIRS.items():
        if not (stereo_dir / disp_file).exists():
            continue
        if disp_file.endswith(".npz"):
            with np.load(stereo_dir / disp_file) as data:
                disp = data[data.files[0]].astype(np.float32)
            valid = np.isfinite(disp)
        else:
            raw = cv2.imread(str(stereo_dir / disp_file), cv2.IMREAD_UNCHANGED)
            if raw is None:
                raise DataError(f"{stereo_dir / disp_file}: cannot read disparity image")
            disp = raw.astype(np.float32)
            valid = raw > 0
        disp = np.where(valid, disp, 0.0).astype(np.float32)
        gt = np.stack([-disp, np.zeros_like(disp)], axis=-1)
        pairs.append(FlowPair(name, read_rgb(stereo_dir / left), read_rgb(stereo_dir / right), gt, valid))
    return pairs


def load_flow_pairs(flow_dir: str | os.PathLike, stereo: bool = True) -> list[FlowPair]:
    """All pairs under a shared ``flow/`` folder: ``pairs.csv`` then ``stereo/``."""
    flow_dir = Path(flow_dir)
    pairs = load_csv_pairs(flow_dir / "pairs.csv")
    if stereo:
        pairs += load_stereo_pairs(flow_dir / "stereo")
    return pairs
