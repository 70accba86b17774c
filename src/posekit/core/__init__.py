"""Layer 1: skeletons, the Poses structure, box and OKS maths, errors."""

from posekit.core.errors import CheckpointError, ConfigError, InputError, PosekitError
from posekit.core.geometry import box_area, box_iou, keypoint_boxes, oks, xywh_to_xyxy, xyxy_to_xywh
from posekit.core.poses import Poses
from posekit.core.skeleton import SKELETONS, Skeleton, get_skeleton, load_skeleton

__all__ = ["CheckpointError", "ConfigError", "InputError", "PosekitError", "Poses", "SKELETONS",
           "Skeleton", "box_area", "box_iou", "get_skeleton", "keypoint_boxes", "load_skeleton",
           "oks", "xywh_to_xyxy", "xyxy_to_xywh"]
