"""What the Trainer needs from a paradigm: training batches and a validation metric.

TopDownTask trains pose models on person crops and validates with ground-truth boxes;
DetectorTask trains person detectors on whole images and validates with box AP; OneStageTask
trains whole-image pose models and validates with keypoint AP.
"""

from __future__ import annotations

from pathlib import Path

import torch

from posekit.core.errors import ConfigError
from posekit.data.datasets import CocoDirectory, DetectionDataset, TopDownDataset, collate_people
from posekit.engine import distributed
from posekit.engine.recipe import Recipe


def ensure_synthetic(root: str, images: int, seed: int, size: int) -> None:
    """Generate a synthetic set at `root` when a recipe asks for one and it is not there yet."""
    if images > 0 and not (Path(root) / "annotations.json").is_file():
        from posekit.data.synth import generate

        generate(root, images, seed=seed, size=size)


def _open(root: str, images: int, seed: int, size: int, what: str) -> CocoDirectory:
    if not root:
        raise ConfigError(f"the recipe has no data.{what}: set it to a COCO-format directory")
    ensure_synthetic(root, images, seed, size)
    return CocoDirectory(root)


class _Task:
    primary_metric = "AP"

    def __init__(self, model, recipe: Recipe):
        d = recipe.data
        self.recipe = recipe
        self.model = model
        self.train_data = _open(d.train, d.synth_images, d.synth_seed, d.synth_size, "train")
        self.val_data = _open(d.val, d.synth_val_images, d.synth_seed + 1, d.synth_size, "val") if d.val else None
        self.dataset = self.make_dataset()
        if self.train_data.read.cache is not None and d.workers > 0:
            for i in range(len(self.train_data.coco.images)):  # decode once, before workers fork
                self.train_data.read(i)

    @property
    def can_evaluate(self) -> bool:
        return self.val_data is not None

    def train_loader(self, epoch: int) -> torch.utils.data.DataLoader:
        """This process's batches of `epoch`; under torchrun each process gets its own share of a
        shuffle that all of them agree on."""
        self.dataset.set_epoch(epoch)
        if len(self.dataset) < self.recipe.batch_size:
            raise ConfigError(f"{len(self.dataset)} training samples are fewer than batch_size "
                              f"{self.recipe.batch_size}: lower batch_size or add data")
        batch_size = distributed.per_process_batch(self.recipe.batch_size)
        generator = torch.Generator().manual_seed(self.recipe.seed * 100003 + epoch)
        sampler = None
        if distributed.world_size() > 1:
            sampler = torch.utils.data.DistributedSampler(self.dataset, shuffle=True, drop_last=True,
                                                          seed=self.recipe.seed * 100003)
            sampler.set_epoch(epoch)
        return torch.utils.data.DataLoader(
            self.dataset, batch_size=batch_size, shuffle=sampler is None, sampler=sampler, drop_last=True,
            generator=generator, num_workers=self.recipe.data.workers, collate_fn=self.collate)


class TopDownTask(_Task):
    collate = staticmethod(torch.utils.data.default_collate)

    def make_dataset(self):
        return TopDownDataset(self.train_data, self.model.input_size, self.model.skeleton,
                              augment=self.recipe.augment, seed=self.recipe.seed)

    def evaluate(self, model, device) -> dict:
        from posekit.engine.evaluation import evaluate_topdown

        return evaluate_topdown(model, self.val_data, device=device).stats


class DetectorTask(_Task):
    collate = staticmethod(collate_people)

    def make_dataset(self):
        from posekit.core.skeleton import get_skeleton

        return DetectionDataset(self.train_data, self.model.input_size[0], get_skeleton(self.recipe.data.skeleton),
                                augment=self.recipe.augment, seed=self.recipe.seed)

    def evaluate(self, model, device) -> dict:
        from posekit.engine.evaluation import evaluate_detector

        return evaluate_detector(model, self.val_data, device=device)


class OneStageTask(DetectorTask):
    """Whole-image pose models (one-stage, end-to-end): the detector's data, keypoint AP."""

    def evaluate(self, model, device) -> dict:
        from posekit.engine.evaluation import evaluate_onestage

        return evaluate_onestage(model, self.val_data, device=device).stats


def build_task(model, recipe: Recipe):
    tasks = {"top-down": TopDownTask, "detector": DetectorTask, "one-stage": OneStageTask,
             "end-to-end": OneStageTask}
    if model.paradigm not in tasks:
        raise ConfigError(f"training {model.paradigm} models is not supported yet")
    return tasks[model.paradigm](model, recipe)
