"""The blocks of Ultralytics YOLOv8 and YOLO11, named as Ultralytics names them so that official
state dicts load by key.

    Conv(64, 128, 3, 2)             # conv.weight, bn.*: conv (no bias) -> BN -> SiLU
    C2f(128, 128, n=3, shortcut=True)            # YOLOv8 stages: cv1, cv2, m.{j}.cv1/cv2
    C3k2(256, 512, n=2, c3k=True)                # YOLO11 stages: a C2f of C3k (or Bottleneck) blocks
    SPPF(1024, 1024, 5)             # cv1, three chained max-pools, cv2
    C2PSA(1024, 1024, n=2)          # cv1, m.{j}.attn.{qkv,proj,pe}, m.{j}.ffn.{0,1}, cv2

Every conv-BN uses BN eps 1e-3 and momentum 0.03 (Ultralytics' `initialize_weights`).
`Concat` and `nn.Upsample` are the parameter-free wiring layers of the YOLO graphs; `run_graph`
runs such a graph: a list of layers, each reading the previous layer's output or the saved
outputs of earlier layers.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from posekit.nn.conv import ConvModule

BN_EPS = 1e-3
BN_MOMENTUM = 0.03


class Conv(ConvModule):
    """Ultralytics `Conv(c1, c2, k, s, g, act)`: Conv2d (no bias, padding k // 2) -> BN -> SiLU.

    act=False gives conv -> BN only. x (B, c1, H, W) -> (B, c2, H / s, W / s)
    """

    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1, g: int = 1, act: bool = True):
        super().__init__(c1, c2, k, stride=s, groups=g, act="silu" if act else None,
                         bn_eps=BN_EPS, bn_momentum=BN_MOMENTUM)


class DWConv(Conv):
    """Depthwise Conv: groups = gcd(c1, c2) (c1 groups when c1 == c2). Keys as `Conv`."""

    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1, act: bool = True):
        super().__init__(c1, c2, k, s, g=math.gcd(c1, c2), act=act)


class Bottleneck(nn.Module):
    """cv1 (k[0] x k[0], c2 * e channels) -> cv2 (k[1] x k[1], c2), plus x when shortcut and c1 == c2.

    x (B, c1, H, W) -> (B, c2, H, W)
    """

    def __init__(self, c1: int, c2: int, shortcut: bool = True, g: int = 1,
                 k: tuple[int, int] = (3, 3), e: float = 0.5):
        super().__init__()
        hidden = int(c2 * e)
        self.cv1 = Conv(c1, hidden, k[0], 1)
        self.cv2 = Conv(hidden, c2, k[1], 1, g=g)
        self.add = shortcut and c1 == c2

    def forward(self, x: Tensor) -> Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    """CSP with two convs, YOLOv8's stage block.

    cv1 (1x1) to 2c channels (c = c2 * e), split in halves; n blocks chained on the second half,
    every intermediate output kept; cv2 (1x1) over the concatenation of all (2 + n) c channels.
    The blocks are `block(c)`, by default a Bottleneck of two 3x3 convs (expansion 1).
    x (B, c1, H, W) -> (B, c2, H, W)
    """

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = False, g: int = 1, e: float = 0.5,
                 block: Callable[[int], nn.Module] | None = None):
        super().__init__()
        self.c = int(c2 * e)
        self.cv1 = Conv(c1, 2 * self.c, 1, 1)
        self.cv2 = Conv((2 + n) * self.c, c2, 1)
        if block is None:
            def block(c):
                return Bottleneck(c, c, shortcut, g, k=(3, 3), e=1.0)
        self.m = nn.ModuleList(block(self.c) for _ in range(n))

    def forward(self, x: Tensor) -> Tensor:
        y = list(self.cv1(x).chunk(2, 1))  # 2 x (B, c, H, W)
        for block in self.m:
            y.append(block(y[-1]))
        return self.cv2(torch.cat(y, 1))


class C3(nn.Module):
    """CSP with three convs: cv3(cat(m(cv1(x)), cv2(x))), cv1/cv2 1x1 to c2 * e channels.

    x (B, c1, H, W) -> (B, c2, H, W)
    """

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, g: int = 1, e: float = 0.5,
                 k: tuple[int, int] = (1, 3)):
        super().__init__()
        hidden = int(c2 * e)
        self.cv1 = Conv(c1, hidden, 1, 1)
        self.cv2 = Conv(c1, hidden, 1, 1)
        self.cv3 = Conv(2 * hidden, c2, 1)
        self.m = nn.Sequential(*(Bottleneck(hidden, hidden, shortcut, g, k=k, e=1.0) for _ in range(n)))

    def forward(self, x: Tensor) -> Tensor:
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class C3k(C3):
    """C3 whose bottlenecks use k x k convs in both places (YOLO11: k = 3)."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, g: int = 1, e: float = 0.5,
                 k: int = 3):
        super().__init__(c1, c2, n, shortcut, g, e, k=(k, k))


class C3k2(C2f):
    """YOLO11's stage block: a C2f whose inner blocks are C3k (2 bottlenecks) when c3k, else a
    Bottleneck with its default expansion 0.5.

    x (B, c1, H, W) -> (B, c2, H, W)
    """

    def __init__(self, c1: int, c2: int, n: int = 1, c3k: bool = False, e: float = 0.5, g: int = 1,
                 shortcut: bool = True):
        def block(c):
            return C3k(c, c, 2, shortcut, g) if c3k else Bottleneck(c, c, shortcut, g)

        super().__init__(c1, c2, n, shortcut, g, e, block=block)


class SPPF(nn.Module):
    """Fast spatial pyramid pooling: cv1 (1x1 to c1 / 2), the k x k stride-1 max-pool applied three
    times in a chain (= pools of k, 2k - 1, 3k - 2), concatenation of the four maps, cv2 (1x1).

    x (B, c1, H, W) -> (B, c2, H, W)
    """

    def __init__(self, c1: int, c2: int, k: int = 5):
        super().__init__()
        hidden = c1 // 2
        self.cv1 = Conv(c1, hidden, 1, 1)
        self.cv2 = Conv(hidden * 4, c2, 1, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

    def forward(self, x: Tensor) -> Tensor:
        y = [self.cv1(x)]
        for _ in range(3):
            y.append(self.m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class Attention(nn.Module):
    """Multi-head self-attention over all H x W positions, YOLO11's (PSA).

    qkv: 1x1 conv-BN to per-head (key_dim q, key_dim k, head_dim v) with key_dim = head_dim * attn_ratio;
    pe: a 3x3 depthwise conv-BN on v added to the attended values as positional encoding;
    proj: 1x1 conv-BN. x (B, dim, H, W) -> (B, dim, H, W)
    """

    def __init__(self, dim: int, num_heads: int = 8, attn_ratio: float = 0.5):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.key_dim = int(self.head_dim * attn_ratio)
        self.scale = self.key_dim ** -0.5
        self.qkv = Conv(dim, dim + 2 * self.key_dim * num_heads, 1, act=False)
        self.proj = Conv(dim, dim, 1, act=False)
        self.pe = Conv(dim, dim, 3, 1, g=dim, act=False)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        qkv = self.qkv(x).view(b, self.num_heads, 2 * self.key_dim + self.head_dim, h * w)
        q, k, v = qkv.split([self.key_dim, self.key_dim, self.head_dim], dim=2)  # (B, heads, d, N)
        attn = ((q.transpose(-2, -1) @ k) * self.scale).softmax(dim=-1)  # (B, heads, N, N)
        out = (v @ attn.transpose(-2, -1)).view(b, c, h, w) + self.pe(v.reshape(b, c, h, w))
        return self.proj(out)


class PSABlock(nn.Module):
    """x + attn(x), then x + ffn(x) with ffn = 1x1 conv-BN-SiLU to 2c, 1x1 conv-BN back.

    x (B, c, H, W) -> (B, c, H, W)
    """

    def __init__(self, c: int, attn_ratio: float = 0.5, num_heads: int = 4, shortcut: bool = True):
        super().__init__()
        self.attn = Attention(c, num_heads=num_heads, attn_ratio=attn_ratio)
        self.ffn = nn.Sequential(Conv(c, c * 2, 1), Conv(c * 2, c, 1, act=False))
        self.add = shortcut

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(x) if self.add else self.attn(x)
        return x + self.ffn(x) if self.add else self.ffn(x)


class C2PSA(nn.Module):
    """YOLO11's attention stage: cv1 (1x1 to 2c, c = c1 * e) split in halves, n PSABlocks (c / 64
    heads) on the second half, cv2 (1x1) over both halves. Needs c1 == c2.

    x (B, c1, H, W) -> (B, c1, H, W)
    """

    def __init__(self, c1: int, c2: int, n: int = 1, e: float = 0.5):
        super().__init__()
        if c1 != c2:
            raise ValueError(f"C2PSA keeps the channel count: got c1={c1}, c2={c2}")
        self.c = int(c1 * e)
        self.cv1 = Conv(c1, 2 * self.c, 1, 1)
        self.cv2 = Conv(2 * self.c, c1, 1)
        self.m = nn.Sequential(*(PSABlock(self.c, attn_ratio=0.5, num_heads=max(self.c // 64, 1)) for _ in range(n)))

    def forward(self, x: Tensor) -> Tensor:
        a, b = self.cv1(x).split((self.c, self.c), dim=1)
        return self.cv2(torch.cat((a, self.m(b)), 1))


class Concat(nn.Module):
    """Concatenate a list of maps along `dimension` (the graph's join layer; no parameters)."""

    def __init__(self, dimension: int = 1):
        super().__init__()
        self.d = dimension

    def forward(self, xs: Sequence[Tensor]) -> Tensor:
        return torch.cat(list(xs), self.d)


def upsample() -> nn.Upsample:
    """The graphs' 2x nearest-neighbour upsampling layer."""
    return nn.Upsample(scale_factor=2.0, mode="nearest")


def run_graph(layers: Sequence[nn.Module], sources: Sequence[int | tuple[int, ...]], x: Tensor,
              outputs: Sequence[int]) -> list[Tensor]:
    """Run a YOLO layer graph and return the outputs of the layers listed in `outputs`.

    layers[i] reads the previous output when sources[i] == -1, the saved output of layer j when it
    is j, or a list of outputs when it is a tuple (-1 in a tuple is the previous layer).
    Only outputs some later layer (or `outputs`) needs are kept.
    """
    needed = set(outputs)
    for i, source in enumerate(sources):
        if isinstance(source, tuple):
            needed.update(i - 1 if j == -1 else j for j in source)
        elif source != -1:
            needed.add(source)
    saved: dict[int, Tensor] = {}
    for i, (layer, source) in enumerate(zip(layers, sources)):
        if isinstance(source, tuple):
            inputs = [x if j == -1 else saved[j] for j in source]
            x = layer(inputs)
        else:
            x = layer(x if source == -1 else saved[source])
        if i in needed:
            saved[i] = x
    return [saved[i] for i in outputs]
