"""The Trainer and the pipelines on CUDA give what they give on CPU (skipped where no GPU is visible;
run on a GPU machine with `pytest tests/engine/test_cuda.py`)."""

import copy

import numpy as np
import pytest
import torch

from posekit.engine.pipeline import OneStagePipeline, TopDownPipeline, layout_of
from posekit.engine.recipe import load_recipe
from posekit.engine.trainer import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(autouse=True)
def exact_float32():
    """TF32 convolutions and matmuls round to 10 bits, enough to move an argmax between near-equal bins."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.fixture(scope="module")
def recipe_file(tmp_path_factory, write_tiny_recipe):
    return write_tiny_recipe(tmp_path_factory.mktemp("tiny"), "ema: false\n")


def _trainers(recipe_file, tmp_path, **arms):
    return {name: Trainer(load_recipe(recipe_file, [f"out={tmp_path}/{name}"] + overrides), quiet=True)
            for name, overrides in arms.items()}


@pytest.mark.parametrize("channels_last", [False, True])
def test_two_cuda_steps_follow_the_cpu_steps(recipe_file, tmp_path, channels_last):
    arms = {d: [f"device={d}", "amp=false", f"channels_last={channels_last}"] for d in ("cpu", "cuda")}
    trainers = _trainers(recipe_file, tmp_path, **arms)
    assert next(trainers["cuda"].model.parameters()).is_cuda
    assert layout_of(trainers["cuda"].model) == (torch.channels_last if channels_last else torch.contiguous_format)
    batch = next(iter(trainers["cpu"].task.train_loader(0)))
    losses = {}
    for d, trainer in trainers.items():
        trainer.steps_per_epoch = 2
        losses[d] = [trainer.train_step(*batch)["loss"] for _ in range(2)]
    assert losses["cuda"] == pytest.approx(losses["cpu"], rel=1e-3)
    assert losses["cuda"][1] != losses["cuda"][0]  # the first step changed the weights


def test_float16_autocast_scales_the_loss_and_learns(recipe_file, tmp_path):
    trainer = _trainers(recipe_file, tmp_path, fp16=["device=cuda", "amp=true", "channels_last=true"])["fp16"]
    outputs = []
    trainer.model.register_forward_hook(lambda module, inputs, output: outputs.append(output))
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.steps_per_epoch = 1
    losses = trainer.train_step(*next(iter(trainer.task.train_loader(0))))
    assert all(o.dtype == torch.float16 for o in outputs[0]) and np.isfinite(losses["loss"])
    assert trainer.scaler.is_enabled() and trainer.scaler.get_scale() > 1
    after = trainer.model.state_dict()
    assert all(after[k].dtype == before[k].dtype for k in before)
    assert any(not torch.equal(before[k], after[k]) for k in before if before[k].is_floating_point())


def test_topdown_pipeline_on_cuda_gives_the_cpu_keypoints():
    from models import test_rtmdet, test_rtmpose

    torch.manual_seed(0)
    pose, detector = test_rtmpose.tiny(hidden_dims=16, s=8).eval(), test_rtmdet.small().eval()
    image = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10, 10, 60, 100], [70, 5, 150, 115.0]])
    # A pipeline moves the model it is given; each gets its own copy.
    cpu, cuda = (TopDownPipeline(copy.deepcopy(pose), detector=copy.deepcopy(detector), device=d)
                 for d in ("cpu", "cuda"))
    assert next(cuda.model.parameters()).is_cuda and next(cuda.detector.parameters()).is_cuda
    expected, got = cpu(image, boxes=boxes), cuda(image, boxes=boxes)
    np.testing.assert_allclose(got.keypoints, expected.keypoints, atol=1e-3)
    np.testing.assert_allclose(got.keypoint_scores, expected.keypoint_scores, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(cuda.detect(image)[1], cpu.detect(image)[1], rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("name", ["yolov8-pose-n", "rtmo-s", "erpose-n"])
def test_onestage_pipeline_on_cuda_gives_the_cpu_people(name):
    from models import test_erpose, test_rtmo, test_yolo_pose

    torch.manual_seed(0)
    # Low score thresholds, so that the untrained models find someone.
    tiny, options = {"yolov8-pose-n": (lambda: test_yolo_pose.tiny(name), {"score_thr": 0.001}),
                     "rtmo-s": (lambda: test_rtmo.tiny(score_thr=0.001), {}),
                     "erpose-n": (lambda: test_erpose.tiny(name), {})}[name]
    model = tiny().eval()
    with torch.no_grad():  # untrained heads score many people exactly alike, which leaves their order open
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    image = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    expected, got = (OneStagePipeline(copy.deepcopy(model), device=d, **options)(image) for d in ("cpu", "cuda"))
    assert len(expected) > 0 and len(got) == len(expected)
    for key in ("boxes", "keypoints", "scores", "keypoint_scores"):
        np.testing.assert_allclose(getattr(got, key), getattr(expected, key), rtol=1e-3, atol=1e-2, err_msg=key)
