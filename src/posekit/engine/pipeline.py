"""Images -> Poses. Pipelines time their stages separately (detector / pre / model / post).

    pipe = posekit.load("rtmpose-t", weights="w.pt", detector="rtmdet-person-nano", detector_weights="d.pt")
    poses = pipe(image_rgb)            # posekit.Poses in image pixels
    pipe.timings                       # seconds per stage of the last call
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np
import torch

from posekit.core.poses import Poses
from posekit.data import transforms as T
from posekit.data.images import as_rgb_image
from posekit.engine.checkpoint import load_weights, model_args_of, read_checkpoint
from posekit.engine.weights import resolve_weights
from posekit.models import create_model


class _Timer:
    def __init__(self):
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        yield
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start


def _deployed(model, device: torch.device) -> torch.nn.Module:
    """`model.for_inference()` on `device`; NHWC on CPU, where every family ran 1.05-1.31x faster.
    CUDA keeps NCHW: on an H200 NHWC gained nothing consistent (benchmarks/bench_layout.py, DEVELOPERS.md)."""
    layout = torch.channels_last if device.type == "cpu" else torch.contiguous_format
    return model.for_inference().to(device, memory_format=layout)


def layout_of(model: torch.nn.Module) -> torch.memory_format:
    """channels_last when every convolution weight whose layout shows (more than one input channel,
    kernel wider than 1) is NHWC, else contiguous_format."""
    convs = [p for p in model.parameters() if p.dim() == 4 and p.shape[1] > 1 and p.shape[-1] > 1]
    nhwc = bool(convs) and all(p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
                               for p in convs)
    return torch.channels_last if nhwc else torch.contiguous_format


@contextmanager
def lent(model: torch.nn.Module):
    """Build pipelines from `model` inside this block; afterwards it is back in its train/eval mode
    and memory layout (the Trainer validates the very model it trains)."""
    was_training, layout = model.training, layout_of(model)
    try:
        yield model
    finally:
        model.train(was_training)
        model.to(memory_format=layout)


def output_tensors(outputs) -> list[torch.Tensor]:
    """A model's outputs (a tensor, or tuples, lists and dicts of them) as a flat list, in order."""
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    if isinstance(outputs, dict):
        outputs = outputs.values()
    return [t for o in outputs for t in output_tensors(o)]


def _forward_chunked(model, batch: torch.Tensor, chunk: int):
    """Run `model` over a batch in chunks of at most `chunk`, concatenating tensor outputs."""
    parts = [model(batch[i:i + chunk]) for i in range(0, len(batch), chunk)]
    if isinstance(parts[0], torch.Tensor):
        return torch.cat(parts)
    return type(parts[0])(torch.cat(p) for p in zip(*parts))


class TopDownPipeline:
    """Person detector (or given boxes) -> all crops of an image as one batch -> pose model.

    box_thr / nms_thr filter the detector's boxes (MMPose's demo defaults 0.3 / 0.3); without a
    detector and without boxes the whole image is one person box.
    """

    def __init__(self, pose_model, detector=None, device: str | torch.device = "cpu", flip_test: bool = False,
                 box_thr: float = 0.3, nms_thr: float = 0.3, batch_size: int = 64):
        self.device = torch.device(device)
        self.model = _deployed(pose_model, self.device)
        self.detector = _deployed(detector, self.device) if detector is not None else None
        self.flip_test, self.box_thr, self.nms_thr, self.batch_size = flip_test, box_thr, nms_thr, batch_size
        self.skeleton = pose_model.skeleton
        self.timings: dict[str, float] = {}

    @torch.no_grad()
    def detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes (N,4) xyxy and scores (N,) above box_thr, after box NMS at nms_thr."""
        from posekit.nn.ops import nms

        batch, metas = self.detector.preprocess([image])
        found = self.detector.decode(self.detector(batch.to(self.device)), metas)[0]
        boxes, scores = found["boxes"], found["scores"]
        keep = scores >= self.box_thr
        boxes, scores = boxes[keep], scores[keep]
        if len(boxes):
            order = nms(torch.as_tensor(boxes), torch.as_tensor(scores), self.nms_thr).numpy()
            boxes, scores = boxes[order], scores[order]
        return boxes.reshape(-1, 4), scores.reshape(-1)

    @torch.no_grad()
    def __call__(self, image, boxes: np.ndarray | None = None, box_scores: np.ndarray | None = None) -> Poses:
        timer = _Timer()
        image = as_rgb_image(image)
        if boxes is None and self.detector is not None:
            with timer.stage("detector"):
                boxes, box_scores = self.detect(image)
        elif boxes is None:
            h, w = image.shape[:2]
            boxes = np.array([[0, 0, w - 1, h - 1]], dtype=np.float64)
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        box_scores = np.ones(len(boxes)) if box_scores is None else np.asarray(box_scores).reshape(-1)
        usable = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])  # zero-area boxes hold nobody
        boxes, box_scores = boxes[usable], box_scores[usable]
        if not len(boxes):
            self.timings = timer.timings
            return Poses.empty(self.skeleton)
        h_in, w_in = self.model.input_size
        with timer.stage("pre"):
            center, scale = T.box_to_center_scale(boxes, aspect_ratio=w_in / h_in)
            crops = T.crop_people(image, center, scale, (w_in, h_in), device=self.device)
        with timer.stage("model"):
            outputs = _forward_chunked(self.model, crops, self.batch_size)
            if self.flip_test:
                flipped = _forward_chunked(self.model, crops.flip(-1), self.batch_size)
                outputs = self.model.merge_flip(outputs, flipped)
        with timer.stage("post"):
            poses = self.model.decode(outputs, {"center": center, "scale": scale, "boxes": boxes,
                                                "box_scores": box_scores, "num_images": 1})[0]
        self.timings = timer.timings
        return poses


class OneStagePipeline:
    """One-stage and end-to-end models: the whole image in, every person out, in one pass."""

    def __init__(self, model, device: str | torch.device = "cpu", **decode_options):
        self.device = torch.device(device)
        self.model = _deployed(model, self.device)
        self.decode_options = decode_options
        self.skeleton = model.skeleton
        self.timings: dict[str, float] = {}

    @torch.no_grad()
    def predict_many(self, images: list) -> list[Poses]:
        timer = _Timer()
        with timer.stage("pre"):
            batch, metas = self.model.preprocess([as_rgb_image(im) for im in images])
        with timer.stage("model"):
            outputs = self.model(batch.to(self.device))
        with timer.stage("post"):
            poses = self.model.decode(outputs, metas, **self.decode_options)
        self.timings = timer.timings
        return poses

    def __call__(self, image) -> Poses:
        return self.predict_many([image])[0]


def build_model(name: str, weights: str | None = None, **overrides):
    """A registered model, with weights (local path or URL) loaded strictly when given.

    A posekit checkpoint records the architecture overrides it was trained with (`model_args`, or
    the recipe's), so a narrowed or resized variant rebuilds itself from its weights file.
    weights="official" takes the checkpoint URL of the model card (downloaded once into the cache).
    """
    if weights == "official":
        from posekit.core.errors import CheckpointError
        from posekit.models import model_card

        weights = model_card(name).checkpoint_url
        if not weights:
            raise CheckpointError(f"'{name}' has no official checkpoint: pass a weights file")
    path = resolve_weights(weights) if weights else None
    if path is not None:
        ckpt = read_checkpoint(path)
        overrides = {**model_args_of(ckpt), **overrides}
    model = create_model(name, **overrides)
    if path is not None:
        load_weights(model, path, model_name=name)
    return model.eval()


def load(model: str, weights: str | None = None, detector: str | None = None,
         detector_weights: str | None = None, device: str = "cpu", **options):
    """The Python entry point: a callable image -> Poses for any registered model."""
    pose_model = build_model(model, weights)
    det = build_model(detector, detector_weights) if detector else None
    from posekit.core.errors import ConfigError

    if pose_model.paradigm == "top-down":
        return TopDownPipeline(pose_model, det, device=device, **options)
    if det is not None:
        raise ConfigError(f"'{model}' is a {pose_model.paradigm} model and finds people itself: drop --detector")
    if pose_model.paradigm in ("one-stage", "end-to-end"):
        if options.get("flip_test"):
            raise ConfigError(f"flip test is for top-down models; '{model}' does not use it: drop --flip-test")
        return OneStagePipeline(pose_model, device=device)
    raise ConfigError(f"'{model}' is a {pose_model.paradigm} model, which cannot turn images into poses "
                      f"by itself: use it as --detector of a top-down model")
