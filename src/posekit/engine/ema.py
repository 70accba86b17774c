"""Exponential moving average of weights (MMDet/MMPose ExpMomentumEMA)."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


class ModelEMA:
    """ema = (1 - m_t) ema + m_t param, m_t = (1 - m) exp(-(1 + step) / gamma) + m.

    The momentum starts near 1 (the EMA follows the model) and decays to `momentum`; buffers are
    averaged too (MMPose uses update_buffers=True).
    """

    def __init__(self, model: nn.Module, momentum: float = 2e-4, gamma: float = 2000.0):
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.momentum, self.gamma, self.steps = momentum, gamma, 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        m = (1 - self.momentum) * math.exp(-(1 + self.steps) / self.gamma) + self.momentum
        self.steps += 1
        for ema_t, t in zip(self.module.state_dict().values(), model.state_dict().values()):
            if ema_t.dtype.is_floating_point:
                ema_t.mul_(1 - m).add_(t.detach(), alpha=m)
            else:
                ema_t.copy_(t)

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.steps = state["steps"]
