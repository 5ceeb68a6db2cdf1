from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_synth(tmp_path_factory) -> Path:
    """A small synthetic benchmark (10 classes x 4 training videos) shared by the end-to-end tests."""
    from modist.synth import SynthConfig, generate

    out = tmp_path_factory.mktemp("synth")
    cfg = SynthConfig(size=48, num_frames=16, train_per_class=4, test_per_class=2)
    generate(out, cfg, seed=0, progress=False)
    return out


def tiny_overrides(data_dir: Path, out_dir: Path, method: str = "modist", steps: int = 25) -> list[str]:
    return [
        f"data.dataset=synth:{data_dir}", f"method.name={method}", f"train.steps={steps}",
        f"train.out_dir={out_dir}", "train.batch_size=8", "train.progress=false", "train.device=cpu",
        "data.crop_size=32", "model.base_width=8", "model.proj_hidden=64", "method.queue_size=32",
        "optim.warmup_steps=0",
    ]


def write_audio_only(path) -> None:
    """A container with an AAC stream and no video stream."""
    import av
    import numpy as np

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for i in range(4):
            frame.pts = i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
