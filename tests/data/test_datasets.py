"""Training datasets: targets agree with the annotations through every transform."""

import numpy as np
import pytest
import torch

from posekit.core.geometry import xywh_to_xyxy
from posekit.core.skeleton import SKELETONS
from posekit.data import transforms as T
from posekit.data.datasets import CocoDirectory, DetectionDataset, TopDownDataset, collate_people
from posekit.data.synth import generate
from posekit.engine.recipe import AugmentConfig


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    generate(root, 6, seed=3, size=160, max_people=4)
    return CocoDirectory(root)


def test_topdown_without_augmentation_maps_keypoints_into_the_crop(synth):
    ds = TopDownDataset(synth, (64, 48), SKELETONS["coco"])
    coco = synth.coco
    crop, t = ds[0]
    row = ds.rows[0]
    center, scale = T.box_to_center_scale(xywh_to_xyxy(coco.bboxes[row:row + 1]), aspect_ratio=48 / 64)
    back = T.crop_to_image(t["keypoints"].numpy()[None].astype(np.float64), center, scale, (48, 64))[0]
    labelled = t["keypoint_weights"].numpy() > 0
    assert crop.shape == (3, 64, 48) and crop.dtype == torch.float32
    assert labelled.any()
    np.testing.assert_allclose(back[labelled], coco.keypoints[row, labelled, :2], atol=1e-3)


def test_topdown_flip_swaps_left_and_right(synth):
    aug = AugmentConfig(flip=1.0, scale=(1.0, 1.0), rotate=0.0, rotate_prob=0.0, shift=0.0, hsv=(0, 0, 0))
    plain = TopDownDataset(synth, (64, 48), SKELETONS["coco"])
    flipped = TopDownDataset(synth, (64, 48), SKELETONS["coco"], augment=aug)
    a, b = plain[0][1], flipped[0][1]
    idx = SKELETONS["coco"].flip_indices
    ok = (a["keypoint_weights"] > 0) & (b["keypoint_weights"][idx] > 0)
    # the mirrored crop sees keypoint k where the plain crop saw its twin, mirrored in x; MMPose's
    # (non-UDP) warp puts the box centre at W/2, so the mirror is u -> W - u rather than W - 1 - u
    np.testing.assert_allclose(b["keypoints"][idx][ok, 0], 48 - a["keypoints"][ok, 0], atol=1e-3)
    np.testing.assert_allclose(b["keypoints"][idx][ok, 1], a["keypoints"][ok, 1], atol=1e-3)


@pytest.mark.parametrize("shift_prob", [0.0, 1.0])
def test_topdown_shift_prob_is_the_share_of_moved_crops(synth, shift_prob):
    # half-size windows (scale 0.5) with the centre jittered by up to a quarter of the box: each
    # window maps keypoints as b = 2a + t, where t = -(W/2, H/2) only for an unmoved centre
    aug = AugmentConfig(flip=0.0, scale=(0.5, 0.5), rotate=0.0, rotate_prob=0.0, shift=0.25,
                        shift_prob=shift_prob, hsv=(0, 0, 0))
    plain = TopDownDataset(synth, (64, 48), SKELETONS["coco"])
    windows = TopDownDataset(synth, (64, 48), SKELETONS["coco"], augment=aug, seed=1)
    moved = []
    for i in range(len(plain)):
        a, b = plain[i][1], windows[i][1]
        ok = a["keypoint_weights"].numpy() > 0
        t = b["keypoints"].numpy()[ok] - 2 * a["keypoints"].numpy()[ok]
        np.testing.assert_allclose(t, np.broadcast_to(t[0], t.shape), atol=1e-3)
        moved.append(np.abs(t[0] + (24, 32)).max() > 1e-3)
    assert np.mean(moved) == shift_prob


def test_topdown_samples_are_deterministic_per_epoch(synth):
    ds = TopDownDataset(synth, (64, 48), SKELETONS["coco"], augment=AugmentConfig(), seed=5)
    a = ds[1][1]["keypoints"]
    assert torch.equal(a, ds[1][1]["keypoints"])
    ds.set_epoch(1)
    assert not torch.equal(a, ds[1][1]["keypoints"])


def test_detection_letterbox_targets_match_annotations(synth):
    ds = DetectionDataset(synth, 96, SKELETONS["coco"])
    coco = synth.coco
    i = next(j for j in range(6) if len(coco.annotation_rows(int(coco.images[j]["id"]))))
    image, t = ds[i]
    _, M = T.letterbox(synth.read(i), 96)
    rows = coco.annotation_rows(int(coco.images[i]["id"]))
    rows = rows[~coco.iscrowd[rows] & (coco.bboxes[rows, 2] > 1) & (coco.bboxes[rows, 3] > 1)]
    expected = T.apply_affine(coco.keypoints[rows, :, :2], M)
    vis = t["visible"].numpy() > 0
    assert image.shape == (3, 96, 96)
    np.testing.assert_allclose(t["keypoints"].numpy()[vis], expected[: len(vis)][vis], atol=1e-3)


@pytest.mark.parametrize("mosaic", [0.0, 1.0])
def test_detection_augmented_targets_are_consistent(synth, mosaic):
    aug = AugmentConfig(mosaic=mosaic, rotate=10.0, rotate_prob=1.0, scale=(0.7, 1.3))
    ds = DetectionDataset(synth, 96, SKELETONS["coco"], augment=aug)
    for i in range(len(ds)):
        image, t = ds[i]
        kp, vis, boxes = t["keypoints"].numpy(), t["visible"].numpy(), t["boxes"].numpy()
        assert ((kp[vis > 0] >= 0) & (kp[vis > 0] <= 95)).all()
        assert (kp[vis == 0] == 0).all()
        assert (boxes[:, 2:] > boxes[:, :2]).all() and ((boxes >= 0) & (boxes <= 95)).all()
        assert (t["areas"].numpy() > 0).all()


def test_collate_pads_people_with_a_mask(synth):
    ds = DetectionDataset(synth, 96, SKELETONS["coco"])
    batch = [ds[i] for i in range(4)]
    images, t = collate_people(batch)
    counts = [len(b[1]["boxes"]) for b in batch]
    assert images.shape == (4, 3, 96, 96)
    assert t["boxes"].shape[:2] == (4, max(counts + [1])) and t["keypoints"].shape[2:] == (17, 2)
    assert t["mask"].sum(1).tolist() == counts


def test_each_sample_knows_its_image(synth):
    coco = synth.coco
    ds = TopDownDataset(synth, (64, 48), SKELETONS["coco"])
    ids = np.array([int(coco.images[i]["id"]) for i in ds.sample_images])
    np.testing.assert_array_equal(ids, coco.ann_image_ids[ds.rows])
    np.testing.assert_array_equal(DetectionDataset(synth, 64, SKELETONS["coco"]).sample_images, np.arange(6))


def test_the_image_cache_holds_only_the_images_it_was_given(tmp_path, monkeypatch):
    from posekit.data import datasets

    generate(tmp_path, 6, seed=3, size=64, max_people=2)
    data = CocoDirectory(tmp_path)
    data.read.cache_only(np.array([0, 2, 4]))
    for i in range(6):
        data.read(i)
    assert sorted(data.read.cache) == [0, 2, 4]
    # Whether the share fits is decided on the share: three 64x64 images fit where six would not.
    monkeypatch.setattr(datasets, "CACHE_LIMIT_BYTES", 4 * 64 * 64 * 3)
    data.read.cache_only(np.arange(6))
    assert data.read.cache is None
    data.read.cache_only(np.array([1, 3, 5]))
    assert data.read.cache == {}
