"""3D CNN backbones, projection heads, pathways and a video classifier."""

from modist.models.classifier import VideoClassifier
from modist.models.heads import ProjectionHead
from modist.models.pathway import Pathway, build_pathway
from modist.models.resnet3d import ResNet3d, StageSpec, build_backbone

__all__ = ["ProjectionHead", "Pathway", "build_pathway", "ResNet3d", "StageSpec", "build_backbone", "VideoClassifier"]
