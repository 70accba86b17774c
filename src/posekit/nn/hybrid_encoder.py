"""RT-DETR's hybrid encoder (Lyu et al. 2023) as RTMO uses it: AIFI + CCFF with RepVGG blocks.

    neck = HybridEncoder([128, 256, 512], widen_factor=0.5, deepen_factor=0.33,
                         output_indices=(1, 2), projector_channels=256)     # RTMO-s
    p16, p32 = neck(backbone(x))       # (B, 256, H/16, W/16), (B, 256, H/32, W/32)
    fuse_repvgg(neck)                  # RepVGG branches -> one 3x3 conv each (inference)

1. `input_proj[i]`: 1x1 conv + BN (no activation) from each backbone level to `hidden_dim`.
2. AIFI (attention-based intra-scale feature interaction): one post-norm transformer encoder
   layer over the stride-32 tokens, queries and keys plus a fixed 2-D sin-cos encoding.
3. CCFF (CNN-based cross-scale feature fusion): an FPN top-down path (`lateral_convs`, nearest x2,
   `fpn_blocks`) then a PAN bottom-up path (`downsample_convs`, `pan_blocks`), both with
   CSPRepLayers, whose bottlenecks are RepVGG blocks (3x3 + 1x1 conv-BN branches, summed, SiLU).
4. The levels in `output_indices`, optionally through `projector` (1x1 conv + BN per level).

Names follow mmpose's `HybridEncoder` (input_proj, encoder.0.layers.0.{self_attn.attn, ffn.layers,
norms}, sincos_pos_enc.dim_t, lateral_convs, fpn_blocks, downsample_convs, pan_blocks,
projector.convs), so official RTMO state dicts load by key. Every BN here is plain (eps 1e-5).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.core.errors import ConfigError
from posekit.nn.conv import ConvModule, make_activation


# --------------------------------------------------------------------------- conv-BN folding

def fold_batchnorm(weight: Tensor, bias: Tensor | None, bn: nn.modules.batchnorm._BatchNorm
                   ) -> tuple[Tensor, Tensor]:
    """Weight and bias of a conv / linear layer with the eval-mode BN that follows it folded in.

    weight (C_out, ...), bias (C_out,) or None -> (weight * gamma / std, (bias - mean) * gamma / std + beta).
    """
    std = (bn.running_var + bn.eps).sqrt()
    factor = bn.weight / std  # (C_out,)
    bias = torch.zeros_like(bn.running_mean) if bias is None else bias
    return weight * factor.reshape(-1, *([1] * (weight.ndim - 1))), (bias - bn.running_mean) * factor + bn.bias


class RepVGGBlock(nn.Module):
    """act(BN(conv3x3(x)) + BN(conv1x1(x))), mmpose's RepVGGBlock without an identity branch.

    `fuse()` folds both branches into one 3x3 conv with bias (`conv_reparam`) and deletes them:
    the output is unchanged in eval mode (structural re-parameterisation, Ding et al. 2021).
    x (B, in_channels, H, W) -> (B, out_channels, H, W)
    """

    def __init__(self, in_channels: int, out_channels: int, act: str | None = "silu",
                 bn_eps: float = 1e-5, bn_momentum: float = 0.1):
        super().__init__()
        self.branch_3x3 = ConvModule(in_channels, out_channels, 3, act=None, bn_eps=bn_eps, bn_momentum=bn_momentum)
        self.branch_1x1 = ConvModule(in_channels, out_channels, 1, act=None, bn_eps=bn_eps, bn_momentum=bn_momentum)
        self.act = make_activation(act)
        self.conv_reparam = None

    @property
    def fused(self) -> bool:
        return self.conv_reparam is not None

    def forward(self, x: Tensor) -> Tensor:
        if self.fused:
            return self.act(self.conv_reparam(x))
        return self.act(self.branch_3x3(x) + self.branch_1x1(x))

    @torch.no_grad()
    def fuse(self) -> None:
        """Replace the two conv-BN branches by the equivalent single 3x3 conv (BN running stats used)."""
        if self.fused:
            return
        w3, b3 = fold_batchnorm(self.branch_3x3.conv.weight, None, self.branch_3x3.bn)
        w1, b1 = fold_batchnorm(self.branch_1x1.conv.weight, None, self.branch_1x1.bn)
        conv = self.branch_3x3.conv
        fused = nn.Conv2d(conv.in_channels, conv.out_channels, 3, padding=1, bias=True).to(w3)
        fused.weight.copy_(w3 + F.pad(w1, [1, 1, 1, 1]))  # the 1x1 kernel sits at the 3x3 centre
        fused.bias.copy_(b3 + b1)
        self.conv_reparam = fused
        del self.branch_3x3, self.branch_1x1


def fuse_repvgg(module: nn.Module) -> nn.Module:
    """Fuse every RepVGGBlock inside `module`, in place; returns `module`."""
    for block in list(module.modules()):
        if isinstance(block, RepVGGBlock):
            block.fuse()
    return module


class CSPRepLayer(nn.Module):
    """conv3(bottlenecks(conv1(x)) + conv2(x)): a CSP layer whose blocks are RepVGG blocks.

    hidden = int(out_channels * widen_factor); conv3 is a 1x1 ConvModule only when hidden differs
    from out_channels (an Identity otherwise, so RTMO-l has no conv3 keys).
    x (B, in_channels, H, W) -> (B, out_channels, H, W)
    """

    def __init__(self, in_channels: int, out_channels: int, num_blocks: int = 3, widen_factor: float = 1.0,
                 act: str | None = "silu"):
        super().__init__()
        hidden = int(out_channels * widen_factor)
        self.conv1 = ConvModule(in_channels, hidden, 1, act=act)
        self.conv2 = ConvModule(in_channels, hidden, 1, act=act)
        self.bottlenecks = nn.Sequential(*(RepVGGBlock(hidden, hidden, act=act) for _ in range(num_blocks)))
        self.conv3 = ConvModule(hidden, out_channels, 1, act=act) if hidden != out_channels else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.conv3(self.bottlenecks(self.conv1(x)) + self.conv2(x))


# --------------------------------------------------------------------------- positions

class SinePositionalEncoding(nn.Module):
    """Fixed sin-cos encoding of (unnormalised) positions, mmpose's `SinePositionalEncoding`.

    dim_t = temperature ** (arange(channels / 2) / (channels / 2)), a persistent buffer.
    forward(position (...,)) -> (..., channels) = [cos(p / dim_t), sin(p / dim_t)]
    grid(h, w) -> (h * w, 2 * channels) = [cos(r / dim_t), sin(r / dim_t), cos(c / dim_t), sin(c / dim_t)]
    for the row-major cells (r, c) of an h x w map.
    """

    def __init__(self, channels: int, temperature: float = 10000.0):
        super().__init__()
        if channels % 2:
            raise ConfigError(f"SinePositionalEncoding needs an even number of channels, got {channels}")
        half = channels // 2
        self.register_buffer("dim_t", temperature ** (torch.arange(half, dtype=torch.float32) / half))

    def forward(self, position: Tensor) -> Tensor:
        freq = position.unsqueeze(-1) / self.dim_t  # (..., channels / 2)
        return torch.cat([freq.cos(), freq.sin()], dim=-1)

    def grid(self, h: int, w: int) -> Tensor:
        rows = torch.arange(h, dtype=self.dim_t.dtype, device=self.dim_t.device)
        cols = torch.arange(w, dtype=self.dim_t.dtype, device=self.dim_t.device)
        r, c = torch.meshgrid(rows, cols, indexing="ij")
        return torch.cat([self(r.flatten()), self(c.flatten())], dim=-1)  # (h * w, 2 * channels)


# --------------------------------------------------------------------------- AIFI

class _SelfAttention(nn.Module):
    """x + MHA(x + pos, x + pos, x): mmcv's MultiheadAttention (batch first, residual inside)."""

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)

    def forward(self, x: Tensor, pos: Tensor) -> Tensor:
        query = x + pos
        # need_weights=True takes PyTorch's explicit-matmul path instead of a fused kernel: FLOP
        # counters then see the attention products (as in the official GMACs) and ONNX export is plain.
        return x + self.attn(query, query, x, need_weights=True)[0]


class _FFN(nn.Module):
    """x + Linear(act(Linear(x))), mmcv's FFN layout (layers.0.0, layers.1)."""

    def __init__(self, dim: int, hidden: int, act: str = "gelu", dropout: float = 0.0):
        super().__init__()
        self.layers = nn.Sequential(nn.Sequential(nn.Linear(dim, hidden), make_activation(act), nn.Dropout(dropout)),
                                    nn.Linear(hidden, dim), nn.Dropout(dropout))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.layers(x)


class TransformerEncoderLayer(nn.Module):
    """Post-norm DETR encoder layer: x = norm0(x + attn(x + pos)); x = norm1(x + ffn(x)).

    x, pos (B, N, dim) -> (B, N, dim)
    """

    def __init__(self, dim: int = 256, num_heads: int = 8, ffn_channels: int = 1024, act: str = "gelu",
                 dropout: float = 0.0):
        super().__init__()
        self.self_attn = _SelfAttention(dim, num_heads, dropout)
        self.ffn = _FFN(dim, ffn_channels, act, dropout)
        self.norms = nn.ModuleList([nn.LayerNorm(dim), nn.LayerNorm(dim)])

    def forward(self, x: Tensor, pos: Tensor) -> Tensor:
        x = self.norms[0](self.self_attn(x, pos))
        return self.norms[1](self.ffn(x))


class TransformerEncoder(nn.Module):
    """`num_layers` TransformerEncoderLayers (key prefix `layers.{i}`). x, pos (B, N, dim) -> (B, N, dim)."""

    def __init__(self, num_layers: int = 1, **layer_kwargs):
        super().__init__()
        self.layers = nn.ModuleList(TransformerEncoderLayer(**layer_kwargs) for _ in range(num_layers))

    def forward(self, x: Tensor, pos: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x, pos)
        return x


# --------------------------------------------------------------------------- neck

class ChannelMapper(nn.Module):
    """One 1x1 conv + BN (no activation) per level (mmdet's ChannelMapper as RTMO configures it)."""

    def __init__(self, in_channels: Sequence[int], out_channels: int):
        super().__init__()
        self.convs = nn.ModuleList(ConvModule(c, out_channels, 1, act=None) for c in in_channels)

    def forward(self, feats: Sequence[Tensor]) -> tuple[Tensor, ...]:
        return tuple(conv(x) for conv, x in zip(self.convs, feats))


class HybridEncoder(nn.Module):
    """AIFI on the coarsest level, then CCFF (FPN + PAN with CSPRepLayers).

    in_channels: backbone channels, finest first, each level half the previous size (strides 8, 16,
    32 for CSPDarknet). CSPRepLayers have round(3 * deepen_factor) RepVGG blocks of
    int(hidden_dim * widen_factor) channels. output_indices picks levels of the PAN output
    (RTMO: (1, 2), strides 16 and 32); projector_channels adds the per-level 1x1 conv + BN projector.
    feats: tuple of (B, in_channels[i], H_i, W_i) -> tuple of (B, C, H_i, W_i) for the chosen levels,
    C = projector_channels or hidden_dim.
    """

    def __init__(self, in_channels: Sequence[int], hidden_dim: int = 256, widen_factor: float = 1.0,
                 deepen_factor: float = 1.0, num_heads: int = 8, ffn_channels: int = 1024,
                 num_encoder_layers: int = 1, pe_temperature: float = 10000.0,
                 output_indices: Sequence[int] | None = None, projector_channels: int | None = None,
                 act: str = "silu"):
        super().__init__()
        self.in_channels = list(in_channels)
        levels = len(self.in_channels)
        if levels < 2:
            raise ConfigError(f"HybridEncoder needs at least two input levels, got in_channels={in_channels}")
        if hidden_dim % 4 or hidden_dim % num_heads:
            raise ConfigError(f"HybridEncoder hidden_dim {hidden_dim} must be divisible by 4 (sin-cos encoding) "
                              f"and by num_heads {num_heads}")
        self.output_indices = tuple(range(levels)) if output_indices is None else tuple(output_indices)
        if not set(self.output_indices) <= set(range(levels)):
            raise ConfigError(f"HybridEncoder output_indices {self.output_indices} must lie in 0..{levels - 1}")
        self.hidden_dim = hidden_dim
        blocks = round(3 * deepen_factor)

        self.input_proj = nn.ModuleList(ConvModule(c, hidden_dim, 1, act=None) for c in self.in_channels)
        self.encoder = nn.ModuleList([TransformerEncoder(num_encoder_layers, dim=hidden_dim, num_heads=num_heads,
                                                         ffn_channels=ffn_channels)])
        self.sincos_pos_enc = SinePositionalEncoding(hidden_dim // 2, pe_temperature)
        self.lateral_convs = nn.ModuleList(ConvModule(hidden_dim, hidden_dim, 1, act=act) for _ in range(levels - 1))
        self.fpn_blocks = nn.ModuleList(CSPRepLayer(2 * hidden_dim, hidden_dim, blocks, widen_factor, act)
                                        for _ in range(levels - 1))
        self.downsample_convs = nn.ModuleList(ConvModule(hidden_dim, hidden_dim, 3, stride=2, act=act)
                                              for _ in range(levels - 1))
        self.pan_blocks = nn.ModuleList(CSPRepLayer(2 * hidden_dim, hidden_dim, blocks, widen_factor, act)
                                        for _ in range(levels - 1))
        self.projector = (ChannelMapper([hidden_dim] * len(self.output_indices), projector_channels)
                          if projector_channels else None)

    @property
    def out_channels(self) -> int:
        return self.projector.convs[0].conv.out_channels if self.projector is not None else self.hidden_dim

    def _encode(self, x: Tensor) -> Tensor:
        """AIFI: x (B, C, h, w) -> (B, C, h, w), attention over the h * w tokens."""
        b, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)  # (B, h * w, C)
        pos = self.sincos_pos_enc.grid(h, w).to(tokens.dtype)[None]  # (1, h * w, C)
        return self.encoder[0](tokens, pos).transpose(1, 2).reshape(b, c, h, w)

    def forward(self, feats: Sequence[Tensor]) -> tuple[Tensor, ...]:
        if len(feats) != len(self.in_channels):
            raise ConfigError(f"HybridEncoder built for {len(self.in_channels)} levels got {len(feats)} feature maps")
        proj = [p(x) for p, x in zip(self.input_proj, feats)]
        proj[-1] = self._encode(proj[-1])

        # top-down: inner[i] ends as the fused map of level i; coarser levels keep their lateral output
        inner = [proj[-1]]
        for j, level in enumerate(range(len(proj) - 1, 0, -1)):
            high = self.lateral_convs[j](inner[0])
            inner[0] = high
            up = F.interpolate(high, scale_factor=2.0, mode="nearest")
            inner.insert(0, self.fpn_blocks[j](torch.cat([up, proj[level - 1]], dim=1)))

        # bottom-up
        outs = [inner[0]]
        for j in range(len(proj) - 1):
            down = self.downsample_convs[j](outs[-1])
            outs.append(self.pan_blocks[j](torch.cat([down, inner[j + 1]], dim=1)))

        outs = [outs[i] for i in self.output_indices]
        return tuple(self.projector(outs)) if self.projector is not None else tuple(outs)
