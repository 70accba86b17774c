"""posekit.data.transforms: MMPose/cv2 oracles, the pixel convention, and exact inverses."""

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posekit.core.errors import ConfigError, InputError
from posekit.core.skeleton import SKELETONS
from posekit.data import transforms as T

COCO_FLIP = SKELETONS["coco"].flip_indices
coords = st.floats(-500, 1500, allow_nan=False)
lengths = st.floats(4, 800, allow_nan=False)
angles = st.floats(-180, 180, allow_nan=False)
sizes = st.tuples(st.integers(8, 640), st.integers(8, 640))


def mmpose_warp_matrix(center, scale, rot, output_size):
    """MMPose get_warp_matrix (no UDP) as three point pairs, solved exactly in float64."""
    theta = np.deg2rad(rot)
    rotate = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    out_w, out_h = output_size

    def third(a, b):
        d = a - b
        return b + np.array([-d[1], d[0]])

    src0 = np.asarray(center, float)
    src1 = src0 + rotate @ np.array([0.0, -0.5 * scale[0]])
    dst0 = np.array([0.5 * out_w, 0.5 * out_h])
    dst1 = dst0 + np.array([0.0, -0.5 * out_w])
    src = np.stack([src0, src1, third(src0, src1)])
    dst = np.stack([dst0, dst1, third(dst0, dst1)])
    # dst = M @ [src, 1]: solve for the 2x3 M
    return np.linalg.solve(np.hstack([src, np.ones((3, 1))]), dst).T


def ramp_image(h, w):
    """Float image whose channels hold each pixel's own (x, y, 0): sampling it reads coordinates."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([xs, ys, np.zeros_like(xs)], -1)


# --------------------------------------------------------------------------- affine basics

def test_apply_affine_single_and_batched(rng):
    M = rng.normal(size=(4, 2, 3))
    pts = rng.normal(size=(4, 5, 2))
    batched = T.apply_affine(pts, M)
    for n in range(4):
        expected = pts[n] @ M[n, :, :2].T + M[n, :, 2]
        np.testing.assert_allclose(batched[n], expected, atol=1e-12)
        np.testing.assert_allclose(T.apply_affine(pts[n], M[n]), expected, atol=1e-12)


def test_apply_affine_rejects_mismatched_shapes():
    with pytest.raises(InputError, match="do not match"):
        T.apply_affine(np.zeros((3, 5, 2)), np.zeros((4, 2, 3)))
    with pytest.raises(InputError, match=r"\(x, y\)"):
        T.apply_affine(np.zeros((3, 3)), np.eye(2, 3))


@settings(max_examples=50)
@given(st.lists(st.floats(-10, 10, allow_nan=False), min_size=6, max_size=6),
       st.tuples(coords, coords))
def test_invert_affine_is_an_inverse(values, point):
    M = np.asarray(values).reshape(2, 3)
    if abs(np.linalg.det(M[:, :2])) < 1e-2:
        return
    back = T.apply_affine(T.apply_affine(np.asarray(point), M), T.invert_affine(M))
    np.testing.assert_allclose(back, point, atol=1e-6)


# --------------------------------------------------------------------------- top-down

def test_box_to_center_scale_pads_and_fixes_aspect():
    boxes = np.array([[10.0, 20.0, 110.0, 220.0],   # 100 x 200: too tall for 3:4 -> widen
                      [0.0, 0.0, 300.0, 100.0]])    # 300 x 100: too wide -> heighten
    center, scale = T.box_to_center_scale(boxes, aspect_ratio=192 / 256, padding=1.25)
    np.testing.assert_allclose(center, [[60, 120], [150, 50]])
    np.testing.assert_allclose(scale, [[250 * 0.75, 250], [375, 500]])
    _, raw = T.box_to_center_scale(boxes, padding=1.0)
    np.testing.assert_allclose(raw, [[100, 200], [300, 100]])
    with pytest.raises(InputError, match=r"\(N, 4\)"):
        T.box_to_center_scale(np.zeros((3, 5)))


@settings(max_examples=60)
@given(coords, coords, lengths, angles, sizes)
def test_warp_matrix_equals_mmpose_three_point_construction(cx, cy, w, rot, size):
    center, scale = np.array([cx, cy]), np.array([w, 1.7 * w])
    ours = T.warp_matrix(center[None], scale[None], np.array([rot]), size)[0]
    np.testing.assert_allclose(ours, mmpose_warp_matrix(center, scale, rot, size), rtol=1e-9, atol=1e-7)


def test_warp_matrix_matches_mmpose_float32_cv2_result():
    """MMPose itself computes in float32 through cv2.getAffineTransform: agree to its precision."""
    center, scale, rot, size = np.array([321.5, 207.25]), np.array([150.0, 200.0]), 33.0, (192, 256)
    reference = mmpose_warp_matrix(center, scale, rot, size)
    src = np.array([center, *T.apply_affine(np.array([[96.0, 0.0], [0.0, 0.0]]),
                                            T.invert_affine(reference))], np.float32)
    dst = np.array([[96, 128], [96, 0], [0, 0]], np.float32)
    ours = T.warp_matrix(center[None], scale[None], rot, size)[0]
    np.testing.assert_allclose(ours, cv2.getAffineTransform(src, dst), rtol=1e-4, atol=1e-3)


def test_warp_matrix_rejects_bad_input():
    with pytest.raises(InputError, match="width <= 0"):
        T.warp_matrix(np.zeros((1, 2)), np.zeros((1, 2)), None, (192, 256))
    with pytest.raises(InputError, match="2 centers but 1 scales"):
        T.warp_matrix(np.zeros((2, 2)), np.ones((1, 2)), None, (192, 256))
    with pytest.raises(ConfigError, match="output_size"):
        T.warp_matrix(np.zeros((1, 2)), np.ones((1, 2)), None, (0, 256))


def test_crop_people_matches_cv2_warp_affine(rng):
    image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    # inside, across an edge, across a corner, around the whole image, and wholly outside it
    centers = np.array([[80.0, 60.0], [20.5, 100.25], [150.0, 10.0], [80.0, 60.0], [400.0, 60.0]])
    scales = np.array([[60.0, 80.0], [45.0, 60.0], [90.0, 120.0], [300.0, 400.0], [30.0, 40.0]])
    rotations = np.array([0.0, 25.0, -70.0, 10.0, 0.0])
    crops = T.crop_people(image, centers, scales, (48, 64), rotations)
    assert crops.shape == (5, 3, 64, 48) and crops.dtype.is_floating_point
    assert (crops[4] == 0).all() and (crops[3] == 0).any() and (crops[3] > 0).any()
    M = T.warp_matrix(centers, scales, rotations, (48, 64))
    for n in range(5):
        expected = cv2.warpAffine(image, M[n], (48, 64), flags=cv2.INTER_LINEAR).astype(np.float32)
        diff = np.abs(crops[n].permute(1, 2, 0).numpy() - expected)
        assert diff.max() <= 1.0 and diff.mean() < 0.5  # cv2 rounds to uint8 in fixed point


def test_crop_people_reads_the_pixel_warp_matrix_points_to():
    """Sample an image of coordinates: crop pixel (j, i) must hold invert(M) @ (j, i)."""
    image = ramp_image(200, 300)
    # shrinking, rotated, and enlarging crops (the last reads a few pixels only)
    centers = np.array([[150.0, 100.0], [120.3, 90.7], [200.6, 50.2]])
    scales = np.array([[90.0, 120.0], [90.0, 120.0], [9.0, 12.0]])
    rotations = np.array([0.0, 40.0, 45.0])
    crops = T.crop_people(image, centers, scales, (24, 32), rotations).numpy()
    to_image = T.invert_affine(T.warp_matrix(centers, scales, rotations, (24, 32)))
    ys, xs = np.mgrid[0:32, 0:24]
    grid = np.stack([xs, ys], -1).astype(np.float64)
    for n in range(3):
        expected = T.apply_affine(grid, to_image[n])  # (32, 24, 2)
        np.testing.assert_allclose(crops[n, :2].transpose(1, 2, 0), expected, atol=2e-3)


def test_a_dot_lands_where_the_warp_matrix_says():
    image = np.zeros((240, 320, 3), np.uint8)
    dot = np.array([201.0, 97.0])
    cv2.circle(image, (int(dot[0]), int(dot[1])), 2, (255, 255, 255), -1)
    center, scale, rotation = np.array([[180.0, 120.0]]), np.array([[120.0, 160.0]]), np.array([30.0])
    crop = T.crop_people(image, center, scale, (96, 128), rotation)[0, 0].numpy()
    ys, xs = np.nonzero(crop > 0)
    weights = crop[ys, xs]
    found = np.array([(xs * weights).sum(), (ys * weights).sum()]) / weights.sum()
    predicted = T.apply_affine(dot, T.warp_matrix(center, scale, rotation, (96, 128))[0])
    np.testing.assert_allclose(found, predicted, atol=0.25)


def test_crop_people_with_nobody_and_bad_images():
    image = np.zeros((10, 10, 3), np.uint8)
    assert T.crop_people(image, np.zeros((0, 2)), np.zeros((0, 2)), (8, 16)).shape == (0, 3, 16, 8)
    far_away = T.crop_people(image + 9, np.array([[500.0, 500.0]]), np.ones((1, 2)), (8, 16))
    assert far_away.shape == (1, 3, 16, 8) and (far_away == 0).all()
    with pytest.raises(InputError, match="HxWxC"):
        T.crop_people(np.zeros((10, 10), np.uint8), np.ones((1, 2)), np.ones((1, 2)), (8, 16))


def test_nobody_passes_through_every_geometric_step():
    center, scale = T.box_to_center_scale(np.zeros((0, 4)), 0.75)
    M = T.warp_matrix(center, scale, np.zeros(0), (48, 64))
    assert M.shape == (0, 2, 3)
    assert T.apply_affine(np.zeros((0, 17, 2)), M).shape == (0, 17, 2)
    assert T.crop_to_image(np.zeros((0, 17, 2)), center, scale, (48, 64), np.zeros(0)).shape == (0, 17, 2)
    kpts, boxes = T.transform_annotations(np.zeros((0, 17, 3)), np.zeros((0, 4)), np.eye(2, 3), (64, 64))
    assert kpts.shape == (0, 17, 3) and boxes.shape == (0, 4)


def test_crop_to_image_without_rotation_is_the_topdown_decode_formula(rng):
    kpts = rng.uniform(0, 192, (3, 17, 2))
    center, scale = rng.uniform(50, 500, (3, 2)), rng.uniform(20, 300, (3, 2))
    expected = kpts / np.array([192, 256]) * scale[:, None] + center[:, None] - 0.5 * scale[:, None]
    np.testing.assert_allclose(T.crop_to_image(kpts, center, scale, (192, 256)), expected, atol=1e-10)


@settings(max_examples=80)
@given(st.tuples(coords, coords, coords, coords), angles, sizes, st.booleans())
def test_image_to_crop_to_image_is_the_identity(box_corners, rotation, size, rotate):
    x1, y1, x2, y2 = box_corners
    box = np.array([[min(x1, x2), min(y1, y2), max(x1, x2) + 4, max(y1, y2) + 4]])
    center, scale = T.box_to_center_scale(box, aspect_ratio=size[0] / size[1])
    points = np.random.default_rng(1).uniform(-200, 1200, (1, 17, 2))
    rotation_deg = np.array([rotation]) if rotate else None
    in_crop = T.apply_affine(points, T.warp_matrix(center, scale, rotation_deg, size))
    back = T.crop_to_image(in_crop, center, scale, size, rotation_deg)
    np.testing.assert_allclose(back, points, atol=1e-4)


def test_random_box_transform_ranges_and_probabilities():
    n = 4000
    center, scale = np.full((n, 2), 100.0), np.tile([[60.0, 80.0]], (n, 1))
    new_center, new_scale, rotation = T.random_box_transform(np.random.default_rng(3), center, scale)
    factor = new_scale / scale
    assert np.allclose(factor[:, 0], factor[:, 1])
    assert factor.min() >= 0.6 and factor.max() <= 1.4 and factor.std() > 0.1
    assert np.abs(rotation).max() <= 80 and abs((rotation == 0).mean() - 0.4) < 0.04
    shifted = np.any(new_center != center, axis=1)
    assert abs(shifted.mean() - 0.3) < 0.04
    assert (np.abs(new_center - center) <= 0.16 * scale + 1e-9).all()
    again = T.random_box_transform(np.random.default_rng(3), center, scale)
    np.testing.assert_array_equal(again[2], rotation)


def test_truncated_normal_follows_scipy_truncnorm():
    from scipy.stats import kstest, truncnorm

    samples = T._truncated_normal(np.random.default_rng(0), (4000,))
    assert np.abs(samples).max() <= 1
    assert kstest(samples, truncnorm(-1, 1).cdf).pvalue > 0.01


def test_random_box_transform_with_nothing_to_do_is_the_identity(rng):
    center, scale = rng.uniform(0, 100, (5, 2)), rng.uniform(10, 100, (5, 2))
    c, s, r = T.random_box_transform(rng, center, scale, shift_prob=0.0, scale_prob=0.0, rotation_prob=0.0)
    np.testing.assert_array_equal(c, center)
    np.testing.assert_array_equal(s, scale)
    np.testing.assert_array_equal(r, np.zeros(5))


# --------------------------------------------------------------------------- flips

@settings(max_examples=50)
@given(st.integers(1, 2000), st.integers(0, 2**31 - 1))
def test_flip_keypoints_twice_is_the_identity(width, seed):
    rng = np.random.default_rng(seed)
    kpts, visible = rng.uniform(0, width, (3, 17, 2)), rng.integers(0, 3, (3, 17))
    once, once_visible = T.flip_keypoints(kpts, visible, width, COCO_FLIP)
    twice, twice_visible = T.flip_keypoints(once, once_visible, width, COCO_FLIP)
    np.testing.assert_allclose(twice, kpts, atol=1e-9)
    np.testing.assert_array_equal(twice_visible, visible)
    # left and right swapped once: the left eye's new position is the mirrored right eye
    np.testing.assert_allclose(once[:, 1, 0], width - 1 - kpts[:, 2, 0])
    np.testing.assert_array_equal(once_visible[:, 1], visible[:, 2])


def test_flip_follows_the_pixels_of_a_flipped_image():
    image = np.zeros((50, 80), np.uint8)
    image[13, 7] = 255
    flipped = cv2.flip(image, 1)
    (y,), (x,) = np.nonzero(flipped)
    np.testing.assert_allclose(T.flip_points(np.array([7.0, 13.0]), 80), [x, y])
    np.testing.assert_array_equal(T.warp_image(image, T.flip_matrix(80), (80, 50)), flipped)
    M = T.flip_matrix(80)
    np.testing.assert_allclose(M, T.invert_affine(M))


def test_flip_keypoints_rejects_a_wrong_flip_table():
    with pytest.raises(InputError, match="flip_indices"):
        T.flip_keypoints(np.zeros((1, 14, 2)), np.ones((1, 14)), 100, COCO_FLIP)


def test_hflip_whole_image_twice_is_the_identity(rng):
    image = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    kpts = np.concatenate([rng.uniform(0, 30, (2, 17, 2)), rng.integers(0, 3, (2, 17, 1))], -1)
    kpts[..., :2] *= kpts[..., 2:] > 0  # unlabelled keypoints sit at (0, 0), as in COCO
    boxes = np.array([[1.0, 2.0, 20.0, 25.0], [5.0, 5.0, 39.0, 29.0]])
    image1, kpts1, boxes1 = T.hflip(image, kpts, boxes, COCO_FLIP)
    np.testing.assert_allclose(boxes1[0], [39 - 20, 2, 39 - 1, 25])
    assert (kpts1[kpts1[..., 2] == 0][:, :2] == 0).all()
    image2, kpts2, boxes2 = T.hflip(image1, kpts1, boxes1, COCO_FLIP)
    np.testing.assert_array_equal(image2, image)
    np.testing.assert_allclose(kpts2, kpts, atol=1e-12)
    np.testing.assert_allclose(boxes2, boxes, atol=1e-12)


# --------------------------------------------------------------------------- whole image

@pytest.mark.parametrize("shape", [(120, 200), (200, 120), (64, 64), (31, 47)])
def test_letterbox_matrix_is_exact_for_the_resized_pixels(shape):
    boxed, M = T.letterbox(ramp_image(*shape), (96, 64), pad_value=-1)
    assert boxed.shape == (64, 96, 3)
    content = boxed[..., 0] >= -0.5
    ys, xs = np.nonzero(content)
    # away from the content's border bilinear sampling of a ramp is exact
    interior = (xs > xs.min()) & (xs < xs.max()) & (ys > ys.min()) & (ys < ys.max())
    expected = T.apply_affine(np.stack([xs, ys], -1)[interior].astype(float), T.invert_affine(M))
    np.testing.assert_allclose(boxed[ys[interior], xs[interior], :2], expected, atol=2e-3)
    assert (boxed[~content] == -1).all()


def test_letterbox_keeps_aspect_centres_and_pads_with_pad_value():
    image = np.full((100, 200, 3), 7, np.uint8)
    boxed, M = T.letterbox(image, 160)
    assert boxed.shape == (160, 160, 3)
    assert (boxed[:40] == 114).all() and (boxed[120:] == 114).all() and (boxed[40:120] == 7).all()
    np.testing.assert_allclose(M[:, :2], np.diag([0.8, 0.8]))


@settings(max_examples=60)
@given(sizes, sizes)
def test_letterbox_round_trip_is_the_identity(image_size, size):
    image = np.zeros(image_size[::-1] + (3,), np.uint8)
    boxed, M = T.letterbox(image, size)
    assert boxed.shape[:2] == size[::-1]
    points = np.random.default_rng(0).uniform(0, max(image_size), (5, 2))
    back = T.apply_affine(T.apply_affine(points, M), T.invert_affine(M))
    np.testing.assert_allclose(back, points, atol=1e-6)
    corners = T.apply_affine(np.array([[-0.5, -0.5], [image_size[0] - 0.5, image_size[1] - 0.5]]), M)
    assert (corners >= -0.5 - 1e-9).all() and (corners <= np.array(size) - 0.5 + 1e-9).all()


def test_random_affine_with_zero_ranges_is_the_identity(rng):
    M = T.random_affine_matrix(rng, (64, 48), degrees=0, translate=0, scale=0, shear=0)
    np.testing.assert_allclose(M, np.eye(2, 3), atol=1e-12)


@settings(max_examples=60)
@given(st.integers(0, 2**31 - 1), sizes, sizes)
def test_random_affine_and_its_inverse_are_the_identity(seed, size, image_size):
    M = T.random_affine_matrix(np.random.default_rng(seed), size, degrees=180, translate=0.3,
                               scale=0.5, shear=10, image_size=image_size)
    points = np.random.default_rng(seed).uniform(-100, 700, (4, 17, 2))
    back = T.apply_affine(T.apply_affine(points, M), T.invert_affine(M))
    np.testing.assert_allclose(back, points, atol=1e-6)


def test_random_affine_draws_within_its_ranges():
    rng = np.random.default_rng(5)
    for _ in range(50):
        M = T.random_affine_matrix(rng, (100, 80), degrees=0, translate=0.1, scale=0.5, shear=0)
        s = np.sqrt(abs(np.linalg.det(M[:, :2])))
        centre = T.apply_affine(np.array([49.5, 39.5]), M)
        assert 0.5 <= s <= 1.5
        assert 40 - 0.5 <= centre[0] <= 60 - 0.5 and 32 - 0.5 <= centre[1] <= 48 - 0.5


def test_warp_image_samples_where_the_matrix_points(rng):
    M = T.random_affine_matrix(rng, (90, 70), degrees=30, translate=0.05, scale=0.2, shear=5,
                               image_size=(100, 80))
    warped = T.warp_image(ramp_image(80, 100), M, (90, 70), pad_value=-1)
    ys, xs = np.mgrid[0:70, 0:90]
    source = T.apply_affine(np.stack([xs, ys], -1).astype(float), T.invert_affine(M))  # (70, 90, 2)
    inside = (source >= 0).all(-1) & (source[..., 0] <= 99) & (source[..., 1] <= 79)
    assert inside.mean() > 0.3 and (warped[~inside][:, 2] == -1).any()
    np.testing.assert_allclose(warped[inside][:, :2], source[inside], atol=0.05)  # cv2: 1/32 px steps


def test_transform_annotations_hides_keypoints_that_leave_the_image():
    kpts = np.array([[[10.0, 10.0, 2], [90.0, 10.0, 2], [50.0, 40.0, 1], [20.0, 20.0, 0]]])
    boxes = np.array([[10.0, 10.0, 90.0, 40.0]])
    shift = np.array([[1.0, 0.0, 30.0], [0.0, 1.0, 0.0]])  # move right by 30 in a 100-wide image
    out_kpts, out_boxes = T.transform_annotations(kpts, boxes, shift, (100, 50))
    np.testing.assert_allclose(out_kpts[0], [[40, 10, 2], [0, 0, 0], [80, 40, 1], [0, 0, 0]])
    np.testing.assert_allclose(out_boxes[0], [40, 10, 99, 40])


def test_transform_annotations_boxes_come_from_the_rotated_corners():
    rotate_90 = np.array([[0.0, -1.0, 99.0], [1.0, 0.0, 0.0]])  # (x, y) -> (99 - y, x)
    boxes = np.array([[10.0, 20.0, 30.0, 60.0]])
    _, out_boxes = T.transform_annotations(np.zeros((1, 17, 3)), boxes, rotate_90, (100, 100))
    np.testing.assert_allclose(out_boxes[0], [39, 10, 79, 30])
    with pytest.raises(InputError, match="do not match"):
        T.transform_annotations(np.zeros((2, 17, 3)), boxes, rotate_90, (100, 100))


def test_transform_annotations_by_a_flip_matches_hflip(rng):
    kpts = np.concatenate([rng.uniform(0, 63, (3, 17, 2)), np.full((3, 17, 1), 2.0)], -1)
    boxes = np.array([[3.0, 4.0, 20.0, 30.0]] * 3)
    flipped_kpts, flipped_boxes = T.transform_annotations(kpts, boxes, T.flip_matrix(64), (64, 64))
    _, kpts2, boxes2 = T.hflip(np.zeros((64, 64, 3), np.uint8), kpts, boxes, COCO_FLIP)
    np.testing.assert_allclose(flipped_kpts[:, COCO_FLIP], kpts2, atol=1e-12)  # same, before the pair swap
    np.testing.assert_allclose(flipped_boxes, boxes2, atol=1e-12)


# --------------------------------------------------------------------------- photometric

def test_hsv_jitter_scales_value_by_the_drawn_gain():
    grey = np.full((4, 4, 3), 100, np.uint8)  # no hue or saturation: HSV round trips exactly
    out = T.hsv_jitter(np.random.default_rng(7), grey, hue=0.0, saturation=0.0, value=0.4)
    gain = np.random.default_rng(7).uniform(-1, 1, 3)[2] * 0.4 + 1
    assert abs(gain - 1) > 0.01
    assert (out == int(np.clip(100 * gain, 0, 255))).all()


def test_hsv_jitter_without_gains_keeps_the_image(rng):
    image = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    out = T.hsv_jitter(rng, image, hue=0.0, saturation=0.0, value=0.0)
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert np.abs(out.astype(int) - image).max() <= 4  # only 8-bit HSV rounding


def test_hsv_shift_moves_hue_by_the_drawn_offset():
    def hue_offset(seed):  # the draws hsv_shift makes: offsets, then which channels are on
        draws = np.random.default_rng(seed)
        return int(draws.uniform(-1, 1, 3)[0] * 5 * draws.integers(0, 2, 3)[0])

    seed = next(s for s in range(100) if hue_offset(s) != 0)
    red = np.zeros((2, 2, 3), np.uint8)
    red[..., 0] = 255  # hue 0
    out = T.hsv_shift(np.random.default_rng(seed), red, hue=5, saturation=0, value=0)
    assert cv2.cvtColor(out, cv2.COLOR_RGB2HSV)[0, 0, 0] == hue_offset(seed) % 180


def test_hsv_augmentations_need_uint8_rgb():
    with pytest.raises(InputError, match="uint8"):
        T.hsv_jitter(0, np.zeros((4, 4, 3), np.float32))
    with pytest.raises(InputError, match="uint8"):
        T.hsv_shift(0, np.zeros((4, 4), np.uint8))
