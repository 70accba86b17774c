"""Layer 5: one module per model family; importing this package registers every variant."""

from posekit.models.registry import ModelCard, create_model, list_models, model_card, register_model

__all__ = ["ModelCard", "create_model", "list_models", "model_card", "register_model"]
