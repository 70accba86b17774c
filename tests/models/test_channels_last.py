"""Every model family computes the same outputs with NHWC weights and inputs (recipe key
`channels_last`, and the pipelines' memory format): no `.view` that assumes NCHW strides."""

import pytest
import torch

from posekit.models import create_model

TINY = {
    "rtmpose-t": dict(widen=0.125, input_size=(64, 48)),
    "cspnext-t-udp": dict(widen=0.125, input_size=(64, 64)),
    "simplebaseline-r50": dict(depth=18, base_channels=8, deconv_channels=(16, 16, 16), input_size=(64, 64)),
    "hrnet-w32": dict(width=8, stem_channels=8, stage_modules=(1, 1, 1), num_blocks=1, input_size=(64, 64)),
    "rtmdet-person-nano": dict(widen_factor=0.125, input_size=(128, 128)),
    "yoloxpose-s": dict(widen_factor=0.125, input_size=(128, 128)),
    "rtmo-s": dict(widen=0.125, deepen=0.33, input_size=(64, 64), neck_hidden=32, neck_ffn=64, neck_heads=4,
                   dcc_channels=32, dcc_gau_s=32, spe_channels=32),
    "yolov8-pose-n": dict(width=0.0625, input_size=64),
    "yolo11-pose-n": dict(width=0.0625, input_size=64),
    "erpose-n": dict(width=0.0625, input_size=64),
}


def _tensors(outputs):
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    if isinstance(outputs, dict):
        outputs = outputs.values()
    return [t for o in outputs for t in _tensors(o)]


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("deployed", [False, True], ids=["training", "for_inference"])
def test_channels_last_gives_the_outputs_of_the_default_layout(name, deployed):
    torch.manual_seed(0)
    model = create_model(name, **TINY[name])
    model = model.for_inference().eval() if deployed else model.train()
    h, w = model.input_size
    images = torch.rand(2, 3, h, w) * 255
    with torch.no_grad():
        default = _tensors(model(images))
        model.to(memory_format=torch.channels_last)
        nhwc = _tensors(model(images.contiguous(memory_format=torch.channels_last)))
    assert len(default) == len(nhwc) > 0
    for a, b in zip(default, nhwc):
        scale = max(1.0, float(a.abs().max()))  # pixel-valued outputs: summation order differs by ~1e-5 of them
        assert a.shape == b.shape and torch.allclose(a, b, rtol=0, atol=1e-4 * scale), (name, (a - b).abs().max())
