"""What the Trainer needs from a paradigm: training batches and a validation metric.

TopDownTask trains pose models on person crops and validates with ground-truth boxes;
DetectorTask trains person detectors on whole images and validates with box AP; OneStageTask
trains whole-image pose models and validates with keypoint AP.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from posekit.core.errors import ConfigError
from posekit.data.datasets import CocoDirectory, DetectionDataset, TopDownDataset, collate_people
from posekit.engine import distributed
from posekit.engine.recipe import Recipe


def ensure_synthetic(root: str, images: int, seed: int, size: int, what: str = "train") -> None:
    """Generate a synthetic set at `root` (the recipe's data.`what`) when the recipe asks for one and
    it is not there yet; a synthetic set already there must be the one it asks for."""
    if images <= 0:
        return
    from posekit.data import synth

    annotations = Path(root) / "annotations.json"
    if not annotations.is_file():
        synth.generate(root, images, seed=seed, size=size)
        return
    try:
        data = json.loads(annotations.read_text())
    except (OSError, ValueError):
        return  # CocoDirectory reports the malformed file
    info = data.get("info") if isinstance(data, dict) else None
    if not isinstance(info, dict) or info.get("description") != synth.DESCRIPTION:
        return  # a set the user made: theirs to size
    found = (len(data.get("images") or []), info.get("seed"), info.get("size"))
    if found != (images, seed, size):
        raise ConfigError(f"{root} holds a synthetic set of {found[0]} images (seed {found[1]}, size {found[2]}) but "
                          f"the recipe asks for {images} (seed {seed}, size {size}): delete {root} to make it "
                          f"anew, or set data.{what} to another directory")


def _open(root: str, images: int, seed: int, size: int, what: str) -> CocoDirectory:
    if not root:
        raise ConfigError(f"the recipe has no data.{what}: set it to a COCO-format directory")
    ensure_synthetic(root, images, seed, size, what)
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
        if self.sharded:  # this process reads only its shard (shard_order)
            images = np.arange(len(self.train_data.coco.images))
            self.train_data.read.cache_only(images[distributed.rank()::distributed.world_size()])
        if self.train_data.read.cache is not None and d.workers > 0:
            for i in np.flatnonzero(self.train_data.read.cacheable):  # decode once, before workers fork
                self.train_data.read(int(i))

    @property
    def sharded(self) -> bool:
        return self.recipe.data.shard_images and distributed.world_size() > 1

    @property
    def can_evaluate(self) -> bool:
        return self.val_data is not None

    def train_loader(self, epoch: int) -> torch.utils.data.DataLoader:
        """This process's batches of `epoch`; under torchrun each process gets its own share of a
        shuffle that all of them agree on, or with data.shard_images its own images, shuffled."""
        self.dataset.set_epoch(epoch)
        if len(self.dataset) < self.recipe.batch_size:
            raise ConfigError(f"{len(self.dataset)} training samples are fewer than batch_size "
                              f"{self.recipe.batch_size}: lower batch_size or add data")
        batch_size = distributed.per_process_batch(self.recipe.batch_size)
        generator = torch.Generator().manual_seed(self.recipe.seed * 100003 + epoch)
        sampler = None
        if self.sharded:
            sampler = shard_order(self.dataset.sample_images, distributed.rank(), distributed.world_size(),
                                  self.recipe.seed, epoch).tolist()
            if len(sampler) < batch_size:
                raise ConfigError(f"a process's shard has {len(sampler)} training samples, fewer than its "
                                  f"batch of {batch_size}: lower batch_size, add data or set data.shard_images=false")
        elif distributed.world_size() > 1:
            sampler = torch.utils.data.DistributedSampler(self.dataset, shuffle=True, drop_last=True,
                                                          seed=self.recipe.seed * 100003)
            sampler.set_epoch(epoch)
        return torch.utils.data.DataLoader(
            self.dataset, batch_size=batch_size, shuffle=sampler is None, sampler=sampler, drop_last=True,
            generator=generator, num_workers=self.recipe.data.workers, collate_fn=self.collate)


def shard_order(sample_images: np.ndarray, rank: int, world: int, seed: int, epoch: int) -> np.ndarray:
    """Process `rank`'s samples for `epoch` when the images are sharded: those of the images i with
    i % world == rank, shuffled, cut to the smallest shard's count so that every process takes the
    same number of steps (an uneven count would leave one waiting in the gradient all-reduce)."""
    shards = np.asarray(sample_images) % world
    count = np.bincount(shards, minlength=world).min()
    return np.random.default_rng([seed, epoch, rank]).permutation(np.flatnonzero(shards == rank))[:count]


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
