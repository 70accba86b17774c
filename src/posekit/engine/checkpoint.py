"""Checkpoints: written atomically, read with weights_only=True, checked against the model."""

from __future__ import annotations

from pathlib import Path

import torch

from posekit.core.errors import CheckpointError, ConfigError
from posekit.core.io import atomic_path


def save_checkpoint(path: str | Path, **payload) -> None:
    """Write a dict of tensors/plain data; a crash mid-write leaves the old file intact."""
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist: check the path")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for truncated or foreign files
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(e).__name__}): "
                              f"it is corrupt or not a torch checkpoint") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"checkpoint {path} is not a dict of weights: save a state_dict")
    return ckpt


def weights_of(ckpt: dict) -> dict:
    """The tensors a checkpoint carries: its EMA weights where it has them, else its state_dict
    (posekit and MMPose layouts), else the dict itself (a bare state dict)."""
    return ckpt.get("ema_state_dict") or ckpt.get("state_dict") or ckpt


def model_args_of(ckpt: dict) -> dict:
    """The architecture overrides a posekit checkpoint records: exported files carry `model_args`,
    the Trainer's carry the recipe's (`config.model_args`); none for foreign files."""
    return ckpt.get("model_args") or (ckpt.get("config") or {}).get("model_args") or {}


def _misfits(own: dict, state: dict) -> tuple[list[str], list[str]]:
    """Keys of `own` absent from `state`, and keys present with another shape."""
    missing = [k for k in own if k not in state]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    return missing, wrong


def load_weights(model: torch.nn.Module, path: str | Path, model_name: str | None = None) -> dict:
    """Load a posekit checkpoint (or a bare state_dict) strictly into `model`.

    A checkpoint made for another model, or for another keypoint count, is refused with a message
    that says which, instead of loading partially.
    """
    ckpt = read_checkpoint(path)
    state = weights_of(ckpt)
    saved_name = ckpt.get("model")
    if model_name and saved_name and saved_name != model_name:
        raise CheckpointError(f"checkpoint {path} holds '{saved_name}', not '{model_name}': "
                              f"pass --model {saved_name} or the weights of {model_name}")
    own = model.state_dict()
    missing, wrong = _misfits(own, state)
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint {path} does not fit this model ({len(missing)} missing keys e.g. "
            f"{missing[:2]}, {len(unexpected)} unexpected e.g. {unexpected[:2]}): it was made for another model")
    if wrong:
        k = wrong[0]
        raise CheckpointError(f"checkpoint {path} has {len(wrong)} tensors of the wrong shape (e.g. {k}: "
                              f"{tuple(state[k].shape)} vs {tuple(own[k].shape)}): it was trained with another "
                              f"keypoint count or width")
    model.load_state_dict(state, strict=True)
    return ckpt


def load_pretrained(model: torch.nn.Module, path: str | Path, prefix: str = "backbone.") -> int:
    """Initialise the part of `model` under `prefix` from the same keys of a checkpoint (posekit,
    MMPose or a bare state dict), as MMPose's `init_cfg=dict(type='Pretrained', prefix=...)` does for
    a backbone. Every tensor of that part must be there with its shape. Returns how many were loaded.
    """
    own = {k: v for k, v in model.state_dict().items() if k.startswith(prefix)}
    if not own:
        raise ConfigError(f"the model has no weights under '{prefix}': set pretrained.prefix to one of its "
                          f"parts, e.g. 'backbone.'")
    state = weights_of(read_checkpoint(path))
    missing, wrong = _misfits(own, state)
    if missing or wrong:
        example = missing[0] if missing else f"{wrong[0]}: {tuple(state[wrong[0]].shape)} vs {tuple(own[wrong[0]].shape)}"
        raise CheckpointError(f"checkpoint {path} does not fit the model's '{prefix}' ({len(missing)} of "
                              f"{len(own)} tensors missing, {len(wrong)} of another shape, e.g. {example}): "
                              f"pretrain the same architecture")
    model.load_state_dict({k: state[k] for k in own}, strict=False)
    return len(own)
