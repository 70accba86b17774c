"""Layer 5: one module per model family; importing this package registers every variant."""

from posekit.models.registry import ModelCard, create_model, list_models, model_card, register_model

import posekit.models.rtmpose  # noqa: E402,F401
import posekit.models.rtmdet  # noqa: E402,F401
import posekit.models.heatmap  # noqa: E402,F401
import posekit.models.yoloxpose  # noqa: E402,F401
import posekit.models.rtmo  # noqa: E402,F401
import posekit.models.yolo_pose  # noqa: E402,F401
import posekit.models.erpose  # noqa: E402,F401

__all__ = ["ModelCard", "create_model", "list_models", "model_card", "register_model"]
