"""Under bfloat16 autocast (recipe `amp: bf16`) the one-stage heads still decode pixels in float32:
bfloat16 steps by 2 px between 256 and 512, and the DFL expectation by 1/16 of a stride."""

import pytest
import torch

from models import test_erpose, test_rtmo, test_yolo_pose, test_yoloxpose
from posekit.models.yolo_pose import DFL

PIXEL_OUTPUTS = {  # model -> (tiny builder, names or indices of its outputs in input pixels)
    "yolov8-pose-n": (lambda: test_yolo_pose.tiny("yolov8-pose-n"), [1, 2]),
    "yolo11-pose-n": (lambda: test_yolo_pose.tiny("yolo11-pose-n"), [1, 2]),
    "erpose-n": (lambda: test_erpose.tiny("erpose-n", with_box_branch=True),
                 ["mah_keypoints", "mah_boxes", "sah_keypoints", "sah_boxes"]),
    "rtmo-s": (test_rtmo.tiny, ["boxes", "priors"]),
    "yoloxpose-s": (test_yoloxpose.tiny, ["boxes", "keypoints", "priors"]),
}


@pytest.mark.parametrize("name", sorted(PIXEL_OUTPUTS))
def test_decoded_pixels_stay_float32_under_bfloat16_autocast(name):
    build, keys = PIXEL_OUTPUTS[name]
    model = build().train()
    h, w = model.input_size
    with torch.autocast("cpu", torch.bfloat16):
        outputs = model(torch.rand(2, 3, h, w) * 255)
    assert all(outputs[k].dtype == torch.float32 for k in keys), {k: outputs[k].dtype for k in keys}


def test_dfl_expectation_is_float32_under_autocast():
    logits = torch.randn(3, 4, 16).bfloat16()
    with torch.autocast("cpu", torch.bfloat16):
        got = DFL(16)(logits)
    expected = (logits.float().softmax(-1) * torch.arange(16.0)).sum(-1)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-5)
