"""Codecs: geometric keypoint targets <-> what a head predicts, vectorised over the batch."""

from posekit.models.codecs.simcc import SimCCCodec, flip_simcc

__all__ = ["SimCCCodec", "flip_simcc"]
