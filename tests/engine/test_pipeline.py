"""Top-down pipeline: batched crops, mapping back to the image, timings, bad input."""

import copy

import numpy as np
import pytest
import torch

from posekit.core.errors import CheckpointError, ConfigError, InputError
from posekit.engine.checkpoint import save_checkpoint
from posekit.engine.pipeline import TopDownPipeline, build_model, layout_of
from posekit.models import create_model

TINY = {"widen": 0.125, "input_size": (64, 48), "hidden_dims": 16, "s": 8}



@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return create_model("rtmpose-t", **TINY).eval()


def test_crops_of_one_image_run_as_one_batch_and_map_back(tiny):
    calls = []
    tiny.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    image = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10, 10, 60, 100], [70, 5, 150, 115], [0, 0, 30, 30.0]])
    poses = TopDownPipeline(tiny)(image, boxes=boxes, box_scores=np.array([0.9, 0.8, 0.7]))
    assert calls == [3]
    assert len(poses) == 3 and poses.keypoints.shape == (3, 17, 2)
    np.testing.assert_allclose(poses.boxes, boxes)
    # the decoded keypoints equal decode_crops mapped through the crop box by hand
    from posekit.data import transforms as T

    center, scale = T.box_to_center_scale(boxes, aspect_ratio=48 / 64)
    crops = T.crop_people(image, center, scale, (48, 64))
    kpts, _ = tiny.decode_crops(tiny(crops))
    expected = T.crop_to_image(kpts.detach().numpy().astype(np.float64), center, scale, (48, 64))
    np.testing.assert_allclose(poses.keypoints, expected, atol=1e-3)


def test_cpu_pipeline_runs_nhwc_with_the_outputs_of_the_default_layout(tiny):
    image = np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10, 10, 60, 100], [70, 5, 150, 115.0]])
    expected = TopDownPipeline(copy.deepcopy(tiny), device="cpu")
    expected.model.to(memory_format=torch.contiguous_format)
    from models import test_rtmdet

    pipe = TopDownPipeline(tiny, detector=test_rtmdet.small())
    assert layout_of(pipe.model) == layout_of(pipe.detector) == torch.channels_last
    assert layout_of(expected.model) == torch.contiguous_format
    np.testing.assert_allclose(pipe(image, boxes=boxes).keypoints, expected(image, boxes=boxes).keypoints, atol=1e-3)


def test_stages_are_timed_and_empty_boxes_give_no_people(tiny):
    pipe = TopDownPipeline(tiny)
    image = np.zeros((50, 40, 3), np.uint8)
    assert len(pipe(image, boxes=np.zeros((0, 4)))) == 0
    assert len(pipe(image, boxes=np.array([[5, 5, 5, 20.0]]))) == 0  # zero-area box: nobody there
    poses = pipe(image)  # no detector, no boxes: the whole image is one person box
    assert len(poses) == 1
    assert set(pipe.timings) == {"pre", "model", "post"} and all(t >= 0 for t in pipe.timings.values())


def test_flip_test_averages_with_the_mirrored_crops(tiny):
    from posekit.data import transforms as T

    image = np.random.default_rng(1).integers(0, 255, (80, 60, 3), dtype=np.uint8)
    box = np.array([[5, 5, 50, 70.0]])
    got = TopDownPipeline(tiny, flip_test=True)(image, boxes=box)
    center, scale = T.box_to_center_scale(box, aspect_ratio=48 / 64)
    crops = T.crop_people(image, center, scale, (48, 64))
    merged = tiny.merge_flip(tiny(crops), tiny(crops.flip(-1)))
    expected = tiny.decode(merged, {"center": center, "scale": scale, "boxes": box})[0]
    np.testing.assert_allclose(got.keypoints, expected.keypoints, atol=1e-4)
    np.testing.assert_allclose(got.keypoint_scores, expected.keypoint_scores, rtol=1e-4)
    plain = tiny.decode(tiny(crops), {"center": center, "scale": scale, "boxes": box})[0]
    assert not np.allclose(plain.keypoint_scores, got.keypoint_scores, rtol=1e-3, atol=0)


def test_bad_images_raise_input_errors(tiny):
    pipe = TopDownPipeline(tiny)
    with pytest.raises(InputError):
        pipe(np.zeros((0, 10, 3), np.uint8))
    with pytest.raises(InputError):
        pipe(np.zeros((10, 10, 3), np.float32))


def test_build_model_restores_architecture_and_refuses_wrong_weights(tiny, tmp_path):
    save_checkpoint(tmp_path / "t.pt", model="rtmpose-t", model_args=TINY, state_dict=tiny.state_dict())
    model = build_model("rtmpose-t", str(tmp_path / "t.pt"))
    assert model.input_size == (64, 48)
    for k, v in tiny.state_dict().items():
        assert torch.equal(model.state_dict()[k], v)
    with pytest.raises(CheckpointError, match="holds 'rtmpose-t'"):
        build_model("rtmpose-s", str(tmp_path / "t.pt"))
    other = create_model("rtmpose-t", **{**TINY, "skeleton": "crowdpose"})
    save_checkpoint(tmp_path / "k14.pt", model="rtmpose-t", state_dict=other.state_dict())
    with pytest.raises(CheckpointError, match="wrong shape|does not fit"):
        build_model("rtmpose-t", str(tmp_path / "k14.pt"), **TINY)


def test_load_refuses_a_detector_as_pose_model():
    from posekit.engine.pipeline import load

    with pytest.raises(ConfigError, match="detector"):
        load("rtmdet-person-nano")


def test_official_checkpoint_layout_loads_from_the_cache_without_network(tmp_path, monkeypatch):
    """An MMPose-style file ({'meta', 'state_dict'} with the official keys) at the model card's URL."""
    from pathlib import PurePosixPath
    from urllib.parse import urlparse

    from posekit.models import model_card

    url = model_card("rtmpose-t").checkpoint_url
    monkeypatch.setenv("POSEKIT_CACHE", str(tmp_path))
    torch.manual_seed(3)
    reference = create_model("rtmpose-t")
    torch.save({"meta": {"epoch": 420}, "state_dict": reference.state_dict()},
               tmp_path / PurePosixPath(urlparse(url).path).name)
    model = build_model("rtmpose-t", "official")
    assert all(torch.equal(model.state_dict()[k], v) for k, v in reference.state_dict().items())
    (tmp_path / PurePosixPath(urlparse(url).path).name).write_bytes(b"truncated download")
    with pytest.raises(CheckpointError, match="cannot be read"):
        build_model("rtmpose-t", "official")
