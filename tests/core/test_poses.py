"""The Poses structure: shapes, emptiness, selection, COCO results entries."""

import numpy as np
import pytest

from posekit.core.poses import Poses
from posekit.core.skeleton import SKELETONS


def make_poses(n, skeleton=SKELETONS["coco"], seed=0):
    rng = np.random.default_rng(seed)
    k = skeleton.num_keypoints
    xy = rng.uniform(10, 500, (n, 2))
    return Poses(xy[:, None] + rng.uniform(0, 100, (n, k, 2)), rng.random((n, k)),
                 np.concatenate([xy, xy + 100], 1), rng.random(n), skeleton)


def test_shapes_and_dtypes():
    poses = make_poses(3)
    assert len(poses) == 3
    assert poses.keypoints.shape == (3, 17, 2) and poses.keypoint_scores.shape == (3, 17)
    assert poses.boxes.shape == (3, 4) and poses.scores.shape == (3,)
    arrays = (poses.keypoints, poses.keypoint_scores, poses.boxes, poses.scores)
    assert all(a.dtype == np.float32 for a in arrays)


def test_flat_inputs_are_reshaped_by_the_skeleton():
    crowd = SKELETONS["crowdpose"]
    poses = Poses(np.zeros(2 * 14 * 2), np.zeros(28), np.zeros(8), np.zeros(2), crowd)
    assert poses.keypoints.shape == (2, 14, 2) and poses.boxes.shape == (2, 4)


def test_mismatched_inputs_fail():
    with pytest.raises(ValueError):
        Poses(np.zeros((2, 17, 2)), np.zeros((3, 17)), np.zeros((2, 4)), np.zeros(2))


def test_empty():
    for poses in (Poses.empty(), Poses.empty(SKELETONS["crowdpose"])):
        assert len(poses) == 0
        assert poses.keypoints.shape == (0, poses.skeleton.num_keypoints, 2)
        assert poses.to_coco(image_id=1) == []
    assert len(make_poses(3)[np.zeros(3, bool)]) == 0


def test_indexing_by_int_slice_and_mask():
    poses = make_poses(4)
    one = poses[2]
    assert len(one) == 1 and one.keypoints.shape == (1, 17, 2)
    np.testing.assert_array_equal(one.keypoints[0], poses.keypoints[2])
    assert one.skeleton is poses.skeleton
    np.testing.assert_array_equal(poses[1:3].scores, poses.scores[1:3])
    mask = poses.scores > np.median(poses.scores)
    picked = poses[mask]
    assert len(picked) == mask.sum() and (picked.scores > np.median(poses.scores)).all()
    np.testing.assert_array_equal(poses[[3, 0]].boxes, poses.boxes[[3, 0]])


def test_to_coco_round_trip():
    poses = make_poses(3)
    entries = poses.to_coco(image_id=42, category_id=1)
    assert len(entries) == 3
    for i, entry in enumerate(entries):
        assert entry["image_id"] == 42 and entry["category_id"] == 1
        assert entry["score"] == pytest.approx(float(poses.scores[i]))
        flat = np.asarray(entry["keypoints"]).reshape(17, 3)
        np.testing.assert_allclose(flat[:, :2], poses.keypoints[i], atol=5e-4)
        np.testing.assert_allclose(flat[:, 2], poses.keypoint_scores[i], atol=5e-4)
        x, y, w, h = entry["bbox"]
        np.testing.assert_allclose([x, y, x + w, y + h], poses.boxes[i], atol=1e-3)
        assert w == pytest.approx(100.0, abs=1e-3) and h == pytest.approx(100.0, abs=1e-3)
        assert all(type(v) is float for v in entry["keypoints"])  # JSON-ready, not numpy scalars
