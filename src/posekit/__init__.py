"""posekit: real-time multi-person 2D human pose estimation."""

__version__ = "0.1.0"

from posekit.core import Poses, Skeleton, get_skeleton  # noqa: E402,F401
