"""TAE over a data set: candidates mapped back from the model's input to image pixels, per image."""

import numpy as np
import pytest
import torch

from posekit.core.errors import ConfigError
from posekit.core.geometry import oks
from posekit.core.skeleton import get_skeleton
from posekit.data.datasets import CocoDirectory
from posekit.data.synth import generate
from posekit.data.transforms import letterbox
from posekit.engine.evaluation import evaluate_tae

SHIFT = np.array([3.0, -2.0])  # image pixels


class ShiftedOracle:
    """A stand-in dense model. Images arrive in data-set order; for image person i, cell 2i holds
    the ground truth and cell 2i+1 the ground truth moved by SHIFT (image pixels), both in letterboxed
    input pixels; `select` keeps the moved cells."""

    skeleton = get_skeleton("coco")
    training = False

    def __init__(self, coco, input_size=(96, 160)):
        self.coco, self.input_size, self.seen, self.batch = coco, input_size, 0, []

    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def preprocess(self, images):
        self.batch = list(range(self.seen, self.seen + len(images)))
        self.seen += len(images)
        matrices = np.stack([letterbox(im, self.input_size[::-1])[1] for im in images])
        return torch.zeros(len(images), 3, *self.input_size), {"matrix": matrices}

    def __call__(self, batch):
        return {"matrix": self._matrices(batch)}

    def _matrices(self, batch):
        return [letterbox(np.zeros((im["height"], im["width"], 3), np.uint8), self.input_size[::-1])[1]
                for im in (self.coco.images[i] for i in self.batch)]

    def _people(self, i):
        return self.coco.keypoints[self.coco.annotation_rows(int(self.coco.images[i]["id"])), :, :2]

    def dense_keypoints(self, outputs):
        cells = []
        for i, matrix in zip(self.batch, outputs["matrix"]):
            gt = self._people(i)
            image_cells = np.stack([gt, gt + SHIFT], 1).reshape(-1, 17, 2)  # (2N, K, 2) image pixels
            image_cells = image_cells @ matrix[:, :2].T + matrix[:, 2]
            cells.append(np.pad(image_cells, ((0, 20 - len(image_cells)), (0, 0), (0, 0))))
        return torch.from_numpy(np.stack(cells))

    def select(self, outputs, score_thr=None):
        return [2 * torch.arange(len(self._people(i))) + 1 for i in self.batch]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("tae") / "val"
    generate(root, 5, seed=3, size=128, max_people=4)
    return CocoDirectory(root)


def test_dataset_tae_equals_the_oks_lost_by_the_selected_cells(data):
    coco = data.coco
    sigmas = np.asarray(get_skeleton("coco").sigmas)
    labelled = coco.keypoints[..., 2] > 0
    expected = [oks(gt[None, :, :2] + SHIFT, gt[None, :, :2], vis[None], area[None], sigmas)[0, 0]
                for gt, vis, area in zip(coco.keypoints, labelled, coco.areas) if vis.any()]
    result = evaluate_tae(ShiftedOracle(coco), data, batch_size=2)
    assert result["people"] == len(expected) > 0
    assert result["mean_optimal_oks"] == pytest.approx(1.0, abs=1e-9)
    assert result["TAE"] == pytest.approx(1.0 - np.mean(expected), abs=1e-9)
    assert 0.0 < result["TAE"] < 1.0


def test_models_without_dense_outputs_are_refused(data):
    from posekit.models import create_model

    with pytest.raises(ConfigError, match="dense one-stage"):
        evaluate_tae(create_model("rtmpose-t"), data)
