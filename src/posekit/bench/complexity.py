"""Model size: parameters and multiply-accumulates.

    count_params(model.for_inference())                  # 13_587_611 for rtmpose-m
    count_gmacs(model.for_inference(), (1, 3, 256, 192)) # 1.918

GMACs follow the MMPose/RTMPose tables (which label MACs "GFLOPs"): the FLOPs that
`torch.utils.flop_counter.FlopCounterMode` counts (convolutions, linears, matmuls) divided by two.
Norms, activations and element-wise ops are not counted.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from posekit.core.errors import InputError


def count_params(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements (buffers excluded); shared parameters count once."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def count_gmacs(module: nn.Module, input_shape: tuple[int, ...]) -> float:
    """Multiply-accumulates (G) of one eval-mode forward on a zero tensor of `input_shape`.

    input_shape: the full input shape, e.g. (1, 3, 256, 192); a pair (H, W) means (1, 3, H, W).
    The module's train/eval state is restored afterwards.
    """
    input_shape = tuple(int(n) for n in input_shape)
    if len(input_shape) == 2:
        input_shape = (1, 3, *input_shape)
    if min(input_shape, default=0) < 1:
        raise InputError(f"count_gmacs needs a positive input shape such as (1, 3, 256, 192); got {input_shape}")
    reference = next(module.parameters(), None)
    device = reference.device if reference is not None else "cpu"
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(torch.zeros(input_shape, device=device))
    finally:
        module.train(was_training)
    return counter.get_total_flops() / 2e9
