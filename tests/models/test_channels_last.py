"""Every model family computes the same outputs with NHWC weights and inputs (recipe key
`channels_last`, and the pipelines' memory format): no `.view` that assumes NCHW strides."""

import pytest
import torch

from models import test_erpose, test_heatmap, test_rtmdet, test_rtmo, test_rtmpose, test_yolo_pose, test_yoloxpose
from posekit.engine.pipeline import output_tensors
from posekit.models import create_model

# Each family's own tiny test model.
TINY = {
    "rtmpose-t": test_rtmpose.tiny,
    "cspnext-t-udp": lambda: create_model("cspnext-t-udp", widen=0.125, input_size=(64, 64)),
    "simplebaseline-r50": test_heatmap.tiny_simplebaseline,
    "hrnet-w32": test_heatmap.tiny_hrnet,
    "rtmdet-person-nano": test_rtmdet.small,
    "yoloxpose-s": test_yoloxpose.tiny,
    "rtmo-s": test_rtmo.tiny,
    "yolov8-pose-n": lambda: test_yolo_pose.tiny("yolov8-pose-n"),
    "yolo11-pose-n": lambda: test_yolo_pose.tiny("yolo11-pose-n"),
    "erpose-n": lambda: test_erpose.tiny("erpose-n"),
}


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("deployed", [False, True], ids=["training", "for_inference"])
def test_channels_last_gives_the_outputs_of_the_default_layout(name, deployed):
    torch.manual_seed(0)
    model = TINY[name]()
    model = model.for_inference().eval() if deployed else model.train()
    h, w = model.input_size
    images = torch.rand(2, 3, h, w) * 255
    with torch.no_grad():
        default = output_tensors(model(images))
        model.to(memory_format=torch.channels_last)
        nhwc = output_tensors(model(images.contiguous(memory_format=torch.channels_last)))
    assert len(default) == len(nhwc) > 0
    for a, b in zip(default, nhwc):
        scale = max(1.0, float(a.abs().max()))  # pixel-valued outputs: summation order differs by ~1e-5 of them
        assert a.shape == b.shape and torch.allclose(a, b, rtol=0, atol=1e-4 * scale), (name, (a - b).abs().max())
