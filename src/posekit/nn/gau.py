"""Gated attention unit (GAU, Hua et al. 2022) as RTMPose's RTMCC head uses it, with ScaleNorm.

    gau = RTMCCBlock(num_token=17, in_token_dims=256, out_token_dims=256)
    gau(tokens)   # (B, 17, 256) -> (B, 17, 256)

Parameter names (uv, o, gamma, beta, ln.g, res_scale.scale) mirror mmpose's `RTMCCBlock`.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from posekit.nn.conv import make_activation


class ScaleNorm(nn.Module):
    """x / max(||x||_2 / sqrt(dim), eps) * g, with one learnable scalar g.

    x (..., dim) -> (..., dim)
    """

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.scale = dim ** -0.5
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x):
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True) * self.scale
        return x / norm.clamp(min=self.eps) * self.g


class Scale(nn.Module):
    """Learnable per-channel scale: x (..., dim) * scale (dim,)."""

    def __init__(self, dim: int, init_value: float = 1.0):
        super().__init__()
        self.scale = nn.Parameter(init_value * torch.ones(dim))

    def forward(self, x):
        return x * self.scale


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth: zero whole samples with probability p, rescale the rest by 1 / (1 - p)."""
    if p == 0.0 or not training:
        return x
    keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1 - p)
    return x * keep / (1 - p)


class RTMCCBlock(nn.Module):
    """Self-attention GAU over keypoint tokens, without positional encodings (RTMPose's settings).

    x' = ScaleNorm(x);  u, v, base = split(act(uv(x')), [e, e, s]);  q, k = base * gamma + beta
    out = o(u * (relu(q k^T / sqrt(s))^2 @ v));  return res_scale(x) + drop_path(out)

    e = in_token_dims * expansion_factor. The residual (and `res_scale`) exists only when
    in_token_dims == out_token_dims.
    x (B, num_token, in_token_dims) -> (B, num_token, out_token_dims)
    """

    def __init__(self, num_token: int, in_token_dims: int, out_token_dims: int, expansion_factor: int = 2,
                 s: int = 128, eps: float = 1e-5, dropout_rate: float = 0.0, drop_path: float = 0.0,
                 act_fn: str = "silu", bias: bool = False):
        super().__init__()
        self.num_token = num_token
        self.s = s
        self.e = int(in_token_dims * expansion_factor)
        self.drop_path_rate = drop_path
        self.uv = nn.Linear(in_token_dims, 2 * self.e + s, bias=bias)
        self.gamma = nn.Parameter(torch.rand(2, s))
        self.beta = nn.Parameter(torch.rand(2, s))
        self.o = nn.Linear(self.e, out_token_dims, bias=bias)
        self.ln = ScaleNorm(in_token_dims, eps=eps)
        self.act = make_activation(act_fn)
        self.dropout = nn.Dropout(dropout_rate)
        self.shortcut = in_token_dims == out_token_dims
        if self.shortcut:
            self.res_scale = Scale(in_token_dims)
        nn.init.xavier_uniform_(self.uv.weight)

    def forward(self, x, pos_enc=None):
        """pos_enc: optional (N, s) added to both queries and keys (mmpose GAUEncoder's pos_enc='add')."""
        uv = self.act(self.uv(self.ln(x)))                                # (B, N, 2e + s)
        u, v, base = torch.split(uv, [self.e, self.e, self.s], dim=-1)
        beta = self.beta if pos_enc is None else self.beta + pos_enc[:, None, :]  # (2, s) or (N, 2, s)
        q, k = torch.unbind(base.unsqueeze(2) * self.gamma + beta, dim=2)  # (B, N, s) each
        kernel = F.relu(torch.bmm(q, k.transpose(1, 2)) / math.sqrt(self.s)).square()  # (B, N, N)
        out = self.o(u * torch.bmm(self.dropout(kernel), v))               # (B, N, out_token_dims)
        out = drop_path(out, self.drop_path_rate, self.training)
        return self.res_scale(x) + out if self.shortcut else out
