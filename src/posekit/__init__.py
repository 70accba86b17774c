"""posekit: real-time multi-person 2D human pose estimation."""

__version__ = "0.1.0"

from posekit.core import Poses, Skeleton, get_skeleton  # noqa: E402,F401


def load(model: str, weights: str | None = None, detector: str | None = None,
         detector_weights: str | None = None, device: str = "cpu", **options):
    """A callable image -> Poses for any registered model (see posekit.engine.pipeline.load)."""
    from posekit.engine.pipeline import load as _load

    return _load(model, weights, detector, detector_weights, device, **options)
