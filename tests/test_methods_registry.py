"""A new method is one class and one registry line: training needs no edit.

The method here names its networks ``student``/``teacher`` (none of the names MoDist uses),
so anything in ``training/`` that looked networks up by attribute name would miss them.
"""

import torch
import torch.nn.functional as F
from torch import nn

from modist import choices
from modist.config import load_config
from modist.configs import config_path
from modist.methods.base import Batch, Method
from modist.methods.momentum import make_momentum_copy, momentum_update
from modist.models import build_pathway
from modist.models.run_files import read_encoder
from modist.training.trainer import pretrain

from conftest import tiny_overrides


class TeacherStudent(Method):
    """Student embeds clip 1 like an EMA teacher embeds clip 2 (a BYOL-like toy)."""

    def __init__(self, arch: str, base_width: int):
        super().__init__()
        self.student = build_pathway(arch, 3, base_width=base_width, proj_hidden=16, embed_dim=8)
        self.teacher = make_momentum_copy(self.student)

    def query_networks(self):
        return {"student": self.student}

    def momentum_pairs(self):
        return [(self.student, self.teacher)]

    def training_step(self, batch: Batch):
        with torch.no_grad():
            target = self.teacher(batch.rgb[1])
        loss = 2 - 2 * F.cosine_similarity(self.student(batch.rgb[0]), target).mean()
        return loss, {}

    def after_optimizer_step(self, step, total_steps):
        momentum_update(self.student, self.teacher, 0.5)

    def eval_encoder(self) -> nn.Module:
        return self.student.backbone

    def export_spec(self):
        return self.student.spec


def build_teacher_student(cfg, *, motion_channels, num_classes):
    return TeacherStudent(cfg.model.arch, cfg.model.base_width)


def test_a_registered_method_trains_checkpoints_and_exports(monkeypatch, tiny_synth, tmp_path):
    monkeypatch.setitem(choices.PRETRAINING_METHODS, "teacher_student",
                        "test_methods_registry:build_teacher_student")
    cfg = load_config(config_path("demo"), tiny_overrides(tiny_synth, tmp_path / "run", method="teacher_student",
                                                          steps=3) + ["model.base_width=4", "data.clip_frames=4",
                                                                      "train.threads=1"])
    torch.manual_seed(0)
    result = pretrain(cfg)
    method = result.method
    assert type(method).__name__ == "TeacherStudent" and not method.needs_motion
    # The optimiser trained the student, and the teacher followed it by EMA, not by gradient.
    initial = TeacherStudent("r3d_tiny", 4)
    assert not all(p.requires_grad for p in method.teacher.parameters())
    assert len(method.learnable_params) == len(list(initial.student.parameters()))
    assert not torch.equal(method.teacher.head.mlp[0].weight, method.student.head.mlp[0].weight)
    saved = read_encoder(result.out_dir)
    encoder = saved.module
    assert saved.trained_on.method == "teacher_student" and saved.spec.modality == "rgb"
    x = torch.randn(2, 3, 4, 32, 32)
    encoder.eval(), method.student.backbone.eval()
    assert torch.allclose(encoder(x), method.student.backbone(x), atol=1e-5)
    assert (result.out_dir / "checkpoint.pt").is_file() and len(result.history) == 3
