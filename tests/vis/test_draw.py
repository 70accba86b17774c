"""posekit.vis: what is drawn where, thresholds, hollow occluded keypoints, any skeleton."""

import numpy as np
import pytest

from posekit.core import InputError, Poses
from posekit.core.skeleton import CENTRE_COLOUR, LEFT_COLOUR, SKELETONS
from posekit.vis import draw_annotations, draw_poses


def one_person(points: dict[int, tuple[float, float]], scores: dict[int, float], k: int = 17,
               box=(0, 0, 0, 0)) -> Poses:
    """A person whose unlisted keypoints sit at (50, 50) with score 0."""
    kpts = np.full((1, k, 2), 50.0)
    conf = np.zeros((1, k))
    for i, xy in points.items():
        kpts[0, i] = xy
    for i, s in scores.items():
        conf[0, i] = s
    return Poses(kpts, conf, np.array([box], float), np.array([0.9]))


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a != b).any(-1)


def test_keypoints_above_threshold_are_drawn_and_below_are_not():
    image = np.zeros((100, 100, 3), np.uint8)
    poses = one_person({0: (20, 20), 9: (80, 80)}, {0: 0.9, 9: 0.1})
    out = draw_poses(image, poses, kpt_thr=0.3, draw_boxes=False, radius=3)
    assert (image == 0).all(), "the input must not be modified"
    assert tuple(out[20, 20]) == CENTRE_COLOUR                    # the nose, in the centre colour
    assert not changed(out, image)[70:90, 70:90].any()            # the wrist scored 0.1 is hidden
    assert not changed(out, image)[40:60, 40:60].any()            # so are the score-0 keypoints
    lower = draw_poses(image, poses, kpt_thr=0.05, draw_boxes=False, radius=3)
    assert tuple(lower[80, 80]) == LEFT_COLOUR                    # shown once the threshold drops


def test_links_join_shown_keypoints_only():
    image = np.zeros((100, 100, 3), np.uint8)
    # left hip (11) - left knee (13) is a COCO link; left ankle (15) hidden
    poses = one_person({11: (20, 50), 13: (80, 50), 15: (80, 90)}, {11: 0.9, 13: 0.9, 15: 0.2})
    out = draw_poses(image, poses, draw_boxes=False, radius=2, thickness=2)
    assert changed(out, image)[50, 35:65].all()                   # along the hip-knee link
    assert not changed(out, image)[60:85, 80].any()               # no link toward the ankle


def test_line_width_and_radius_follow_person_size():
    image = np.zeros((400, 400, 3), np.uint8)
    small = one_person({5: (10, 10), 6: (20, 10)}, {5: 1.0, 6: 1.0}, box=(5, 5, 25, 45))
    big = one_person({5: (100, 100), 6: (200, 100)}, {5: 1.0, 6: 1.0}, box=(50, 50, 250, 450))
    n_small = changed(draw_poses(image, small, draw_boxes=False), image).sum()
    n_big = changed(draw_poses(image, big, draw_boxes=False), image).sum()
    assert n_big > 5 * n_small
    fixed = changed(draw_poses(image, big, draw_boxes=False, radius=2, thickness=1), image).sum()
    assert fixed < n_big


def test_boxes_and_empty_results():
    image = np.full((64, 64, 3), 7, np.uint8)
    poses = one_person({0: (30, 30)}, {0: 0.9}, box=(10, 10, 50, 50))
    with_box = draw_poses(image, poses)
    assert changed(with_box, image)[30, 8:13].any() and changed(with_box, image)[30, 48:53].any()
    assert not changed(draw_poses(image, poses, draw_boxes=False), image)[30, 8:13].any()
    np.testing.assert_array_equal(draw_poses(image, Poses.empty()), image)
    with pytest.raises(InputError, match="Poses"):
        draw_poses(image, np.zeros((1, 17, 3)))


def test_any_skeleton_can_be_drawn():
    skeleton = SKELETONS["crowdpose"]
    kpts = np.random.default_rng(0).uniform(10, 90, (2, skeleton.num_keypoints, 2))
    poses = Poses(kpts, np.ones((2, skeleton.num_keypoints)), np.zeros((2, 4)), np.ones(2), skeleton)
    image = np.zeros((100, 100, 3), np.uint8)
    out = draw_poses(image, poses, draw_boxes=False)
    for x, y in np.rint(kpts.reshape(-1, 2)).astype(int):
        assert changed(out, image)[y, x]


def test_ground_truth_visible_filled_occluded_hollow_unlabelled_absent():
    image = np.zeros((120, 120, 3), np.uint8)
    kpts = np.zeros((1, 17, 3))
    kpts[0, 5] = (30, 30, 2)     # left shoulder, visible
    kpts[0, 7] = (90, 30, 1)     # left elbow, occluded; link 5-7 exists
    kpts[0, 9] = (90, 100, 0)    # left wrist, not labelled; link 7-9 exists
    out = draw_annotations(image, kpts, "coco", radius=6, thickness=2)
    diff = changed(out, image)
    assert tuple(out[30, 30]) == LEFT_COLOUR                      # filled disc
    assert not diff[30, 90]                                       # hollow ring: centre untouched
    assert diff[30, 96] or diff[30, 95]                           # ... ring drawn at the radius
    assert diff[30, 50:70].all()                                  # the link between labelled points
    assert not diff[45:95, 90].any()                              # nothing toward the unlabelled wrist
    boxed = draw_annotations(image, kpts, "coco", bboxes=np.array([[20.0, 20, 80, 20]]))
    assert changed(boxed, image)[25, 20]


def test_draw_annotations_checks_shapes():
    with pytest.raises(InputError, match=r"\(N, 17, 3\)"):
        draw_annotations(np.zeros((10, 10, 3), np.uint8), np.zeros((1, 14, 3)), "coco")
    out = draw_annotations(np.zeros((10, 10, 3), np.uint8), np.zeros((0, 14, 3)), "crowdpose")
    assert out.shape == (10, 10, 3) and not out.any()
