"""Conv -> BatchNorm -> activation, named as mmcv names them so official state dicts load by key.

    ConvModule(64, 128, 3, stride=2)                   # keys: conv.weight, bn.{weight,bias,running_*}
    ConvModule(64, 17, 1, norm=False, act=None)        # a plain conv with bias
    DepthwiseSeparableConvModule(64, 128, 5)           # depthwise_conv.{conv,bn}, pointwise_conv.{conv,bn}

Every block that builds convs (CSP layers, necks, heads) forwards `**conv_kwargs`
(`act`, `bn_eps`, `bn_momentum`) to these two classes, so a family sets its norm/activation once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from posekit.core.errors import ConfigError

ACTIVATIONS = {
    "silu": nn.SiLU,     # mmcv's Swish is the same function
    "swish": nn.SiLU,
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.1),
    "gelu": nn.GELU,
    "hardsigmoid": nn.Hardsigmoid,
    "sigmoid": nn.Sigmoid,
}


def make_activation(act: str | nn.Module | None) -> nn.Module:
    """'silu' | 'relu' | ... | an nn.Module | None (identity) -> a module."""
    if act is None:
        return nn.Identity()
    if isinstance(act, nn.Module):
        return act
    if act not in ACTIVATIONS:
        raise ConfigError(f"unknown activation '{act}': use one of {sorted(ACTIVATIONS)} or None")
    return ACTIVATIONS[act]()


class _DepthwiseConvFloat32WeightGrad(torch.autograd.Function):
    """A depthwise conv whose weight gradient is computed in float32 from bfloat16 activations.

    On CPU, oneDNN's bfloat16 weight gradient of a depthwise conv runs about 2x slower than the float32
    one, while the forward and the input gradient are fast in both: 20.4 against 8.9 ms for RTMPose-t's
    24-channel 5x5 conv at 64x48, batch 16, one thread (AMD EPYC, ad hoc). A whole RTMPose-t training
    step: 1.075x (`benchmarks/bench_train_step.py --arms depthwise`, train_step_depthwise_grad.json).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        weight_low = weight.to(x.dtype)
        ctx.save_for_backward(x, weight_low)
        ctx.conv_args = (stride, padding, dilation, groups)
        ctx.has_bias, ctx.weight_dtype = bias is not None, weight.dtype
        return F.conv2d(x, weight_low, None if bias is None else bias.to(x.dtype), stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad):
        x, weight_low = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.conv_args
        backward = torch.ops.aten.convolution_backward
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = backward(grad, x, weight_low, None, stride, padding, dilation, False, [0, 0],
                              groups, [True, False, False])[0]
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            bias_sizes = [weight_low.shape[0]] if ctx.has_bias else None
            _, grad_w, grad_b = backward(grad.float(), x.float(), weight_low.float(), bias_sizes, stride, padding,
                                         dilation, False, [0, 0], groups,
                                         [False, ctx.needs_input_grad[1], ctx.needs_input_grad[2]])
            grad_w = None if grad_w is None else grad_w.to(ctx.weight_dtype)
        return grad_x, grad_w, grad_b, None, None, None, None


class DepthwiseConv2d(nn.Conv2d):
    """nn.Conv2d with groups == in_channels == out_channels (same parameters and state-dict keys) that
    trains faster under CPU bfloat16 autocast; any other use is plain nn.Conv2d."""

    def _conv_forward(self, x, weight, bias):
        if (x.dtype == torch.bfloat16 and x.device.type == "cpu" and torch.is_grad_enabled()
                and weight.requires_grad and self.padding_mode == "zeros" and not isinstance(self.padding, str)):
            return _DepthwiseConvFloat32WeightGrad.apply(x, weight, bias, self.stride, self.padding,
                                                        self.dilation, self.groups)
        return super()._conv_forward(x, weight, bias)


class ConvModule(nn.Module):
    """Conv2d -> BatchNorm2d -> activation (mmcv `ConvModule` layout: children `conv`, `bn`, `act`).

    The conv has a bias only when no norm follows it (mmcv's bias='auto'), unless `bias` says otherwise.
    padding defaults to kernel_size // 2 ('same' for odd kernels at stride 1).
    x (B, in_channels, H, W) -> (B, out_channels, H / stride, W / stride)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1,
                 padding: int | None = None, dilation: int = 1, groups: int = 1, bias: bool | None = None,
                 norm: bool = True, act: str | nn.Module | None = "silu",
                 bn_eps: float = 1e-5, bn_momentum: float = 0.1):
        super().__init__()
        if padding is None:
            padding = dilation * (kernel_size - 1) // 2
        depthwise = 1 < groups == in_channels == out_channels
        self.conv = (DepthwiseConv2d if depthwise else nn.Conv2d)(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
            bias=not norm if bias is None else bias)
        self.bn = nn.BatchNorm2d(out_channels, eps=bn_eps, momentum=bn_momentum) if norm else nn.Identity()
        self.act = make_activation(act)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class DepthwiseSeparableConvModule(nn.Module):
    """Depthwise k x k ConvModule then pointwise 1 x 1 ConvModule, each with its own norm and activation.

    x (B, in_channels, H, W) -> (B, out_channels, H / stride, W / stride)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 padding: int | None = None, dilation: int = 1, **conv_kwargs):
        super().__init__()
        self.depthwise_conv = ConvModule(in_channels, in_channels, kernel_size, stride, padding, dilation,
                                         groups=in_channels, **conv_kwargs)
        self.pointwise_conv = ConvModule(in_channels, out_channels, 1, **conv_kwargs)

    def forward(self, x):
        return self.pointwise_conv(self.depthwise_conv(x))
