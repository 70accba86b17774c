"""Model registry: every variant is a name, a builder and a model card.

    create_model("rtmpose-m")            # an nn.Module honouring the model contract
    list_models(family="rtmpose")
    model_card("rtmpose-m").params_m     # the official parameter count, in millions
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

from posekit.core.errors import ConfigError


@dataclass(frozen=True)
class ModelCard:
    """What the paper and the official release say about one variant."""

    name: str
    family: str                      # "rtmpose", "heatmap", "rtmdet", "rtmo", "yolo-pose", ...
    paradigm: str                    # "top-down", "detector", "bottom-up", "one-stage", "end-to-end"
    paper: str
    input_size: tuple[int, int]      # (height, width) at which the official numbers were measured
    params_m: float | None = None    # official parameters of the inference model, millions
    gmacs: float | None = None       # official multiply-accumulates at input_size, G
    coco_ap: float | None = None     # official COCO val AP (0-100)
    checkpoint_url: str | None = None
    skeleton: str = "coco"
    notes: str = ""
    extra: dict = field(default_factory=dict)


_REGISTRY: dict[str, tuple[Callable, ModelCard]] = {}


def configure(base, overrides: dict, what: str):
    """A variant's architecture dataclass with `overrides` applied (lists from YAML become tuples);
    an unknown field is a ConfigError that lists the known ones."""
    known = {f.name for f in dataclasses.fields(base)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown {what} option(s) {unknown}: use any of {sorted(known)}")
    return dataclasses.replace(base, **{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})


def register_model(card: ModelCard):
    """Decorator: register `builder(**overrides) -> nn.Module` under `card.name`."""

    def wrap(builder: Callable):
        if card.name in _REGISTRY:
            raise ValueError(f"model '{card.name}' is registered twice")
        _REGISTRY[card.name] = (builder, card)
        return builder

    return wrap


def _ensure_loaded() -> None:
    import posekit.models  # noqa: F401  (importing the package registers every family)


def create_model(name: str, **overrides):
    """Build a registered model; `overrides` change fields of its architecture dataclass."""
    _ensure_loaded()
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model '{name}': run `posekit models` to list the {len(_REGISTRY)} available")
    builder, card = _REGISTRY[name]
    model = builder(**overrides)
    model.card = card
    return model


def model_card(name: str) -> ModelCard:
    _ensure_loaded()
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model '{name}': run `posekit models` to list the available ones")
    return _REGISTRY[name][1]


def list_models(family: str | None = None, paradigm: str | None = None) -> list[str]:
    _ensure_loaded()
    return sorted(n for n, (_, c) in _REGISTRY.items()
                  if (family is None or c.family == family) and (paradigm is None or c.paradigm == paradigm))
