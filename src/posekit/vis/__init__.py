"""posekit.vis: drawings of predicted and ground-truth poses."""

from posekit.vis.draw import draw_annotations, draw_poses

__all__ = ["draw_annotations", "draw_poses"]
