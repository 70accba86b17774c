"""Synthetic multi-person pose data: articulated people drawn on textured backgrounds.

The project's training and benchmark ground. Each person is a 3-D stick model with
body-proportional segment lengths and joint-angle limits (standing, walking, gesturing, sitting,
crouching, bending), turned by a body yaw (front, profile and back views) and a head yaw, projected
orthographically, tilted slightly in the image plane and drawn as filled body parts: capsules for
arms, legs, hands and feet, convex hulls of 3-D boxes for torso and pelvis, an ellipse head with
hair, eyes, nose and ears.

Rules the annotations follow (docs/synth.md shows examples):

- **Left/right cue.** A person's left arm, leg and shoe are a light tint of the clothing colour
  (mixed 45 % toward white), the right ones a dark shade (50 % of it); the torso is the plain colour.
  So the left limbs are always brighter than the right ones, in every view, back views included.
- **Occlusion.** People are drawn back to front, and each person's parts back to front by depth.
  A keypoint is visible (v=2) when the pixel under it belongs to one of its own parts (an elbow to
  that side's upper arm or forearm, a hip to the torso, pelvis or thigh); covered by another
  person, by a foreground distractor or by the person's own nearer parts it is v=1; face keypoints
  turned away from the camera (the far eye and ear, the face in a back view) are v=1 as well.
  Outside the image: v=0 and x = y = 0 (COCO).
- **Boxes and areas.** `area` is the pixel count of the person's visible mask and `bbox` its tight
  box (xywh, pixel-extent: [x0, y0, x1 - x0 + 1, y1 - y0 + 1], as pycocotools computes it from a
  mask). v=2 keypoints lie in the box (within half a pixel); v=1 keypoints may lie outside it.
  People with fewer than 16 visible pixels are not annotated; people who show pixels but no
  keypoint inside the image are kept with num_keypoints 0, as COCO does.
- **Scale.** Standing heights from 32 px to beyond the image size; 0 to `max_people` people, some
  of them packed in overlapping rows, some cut by the image border.
- **Pixels.** Integer (x, y) is the centre of a pixel (the convention of posekit.data.transforms);
  a point is inside when 0 <= x <= size - 1.

Every image is a function of (seed, index) only, so any subset is reproducible and the same seed
gives a byte-identical annotations.json.
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass, fields
from pathlib import Path

import cv2
import numpy as np

from posekit.core.errors import ConfigError, InputError
from posekit.core.skeleton import SKELETONS, Skeleton, get_skeleton
from posekit.data.coco import coco_dict, write_coco

JPEG_QUALITY = 90
MIN_VISIBLE_AREA = 16
MIN_HEIGHT = 32          # px, standing height of the smallest person
_SHIFT = 4               # cv2 sub-pixel bits
_ONE = 1 << _SHIFT

# ----------------------------------------------------------------------------- body layout

PARTS = ("head", "neck", "torso", "pelvis",
         "left_upper_arm", "left_forearm", "left_hand", "right_upper_arm", "right_forearm", "right_hand",
         "left_thigh", "left_shin", "left_foot", "right_thigh", "right_shin", "right_foot")
_P = {name: i for i, name in enumerate(PARTS)}
_PART_BITS = 4  # label map: (person << 4) + part + 1, 0 where no person shows
assert len(PARTS) <= 1 << _PART_BITS

# Points of the body model: the 17 COCO keypoints, then points only used for drawing.
HEAD, NECK, L_HAND_END, R_HAND_END, L_TOE, R_TOE = range(17, 23)
TORSO_CORNERS = np.arange(23, 35)      # 3 levels x 4 corners of the chest box
PELVIS_CORNERS = np.arange(35, 43)     # 2 levels x 4 corners of the hip box
NUM_POINTS = 43

_LIMBS = {  # part -> (start point, end point)
    "neck": (NECK, HEAD),
    "left_upper_arm": (5, 7), "left_forearm": (7, 9), "left_hand": (9, L_HAND_END),
    "right_upper_arm": (6, 8), "right_forearm": (8, 10), "right_hand": (10, R_HAND_END),
    "left_thigh": (11, 13), "left_shin": (13, 15), "left_foot": (15, L_TOE),
    "right_thigh": (12, 14), "right_shin": (14, 16), "right_foot": (16, R_TOE),
}

# Which parts show each keypoint: the keypoint is visible when the pixel under it is one of these.
_KEYPOINT_PARTS = (
    ("head",), ("head",), ("head",), ("head",), ("head",),
    ("torso", "left_upper_arm"), ("torso", "right_upper_arm"),
    ("left_upper_arm", "left_forearm"), ("right_upper_arm", "right_forearm"),
    ("left_forearm", "left_hand"), ("right_forearm", "right_hand"),
    ("torso", "pelvis", "left_thigh"), ("torso", "pelvis", "right_thigh"),
    ("left_thigh", "left_shin"), ("right_thigh", "right_shin"),
    ("left_shin", "left_foot"), ("right_shin", "right_foot"),
)
KEYPOINT_PART_BITS = np.array([sum(1 << _P[p] for p in parts) for parts in _KEYPOINT_PARTS], dtype=np.int64)

# Face points on the head ellipsoid: lateral angle (left +), height (x ry), distance (x radius),
# and how far (x radius) behind the head's silhouette plane a point may turn and still be seen:
# turning the head hides the far ear (~25 deg), then the far eye (~46 deg), then the nose (~100 deg),
# which makes it a back view: no eyes. An ear always shows.
_FACE_AZIMUTH = np.array([0.0, 0.5, -0.5, 1.6, -1.6])
_FACE_HEIGHT = np.array([-0.3, 0.05, 0.05, -0.05, -0.05])
_FACE_RADIUS = np.array([1.15, 0.95, 0.95, 1.0, 1.0])
_FACE_MIN_DEPTH = np.array([-0.2, 0.25, 0.25, -0.45, -0.45])

# Proportions in units of standing height (anthropometric tables, rounded).
_TORSO, _SHOULDERS, _HIPS, _NECK = 0.29, 0.23, 0.16, 0.12
_UPPER_ARM, _FOREARM, _HAND, _THIGH, _SHIN, _FOOT = 0.18, 0.15, 0.07, 0.245, 0.245, 0.085
_HEAD_AXES = (0.05, 0.065, 0.056)  # lateral, vertical, front-back semi-axes
_WIDTHS = {"neck": 0.05, "left_upper_arm": 0.052, "left_forearm": 0.042, "left_hand": 0.042,
           "left_thigh": 0.08, "left_shin": 0.058, "left_foot": 0.045}
for _name in list(_WIDTHS):
    _WIDTHS[_name.replace("left", "right")] = _WIDTHS[_name]

_SKIN = np.array([(255, 224, 196), (241, 194, 160), (224, 172, 130), (198, 134, 94), (141, 85, 54),
                  (92, 59, 40)], dtype=np.float64)
_HAIR = np.array([(20, 15, 10), (60, 40, 25), (110, 75, 40), (200, 170, 110), (150, 150, 150),
                  (90, 35, 20)], dtype=np.float64)
_POSES = ("standing", "walking", "gesturing", "sitting", "crouching", "bending")
_POSE_PROBS = (0.30, 0.25, 0.17, 0.12, 0.08, 0.08)


def lighter(rgb: np.ndarray) -> np.ndarray:
    """The tint of the person's left limbs."""
    return 0.55 * np.asarray(rgb, dtype=np.float64) + 0.45 * 255


def darker(rgb: np.ndarray) -> np.ndarray:
    """The shade of the person's right limbs."""
    return 0.5 * np.asarray(rgb, dtype=np.float64)


# ----------------------------------------------------------------------------- people

@dataclass
class People:
    """N people ready to draw, in drawing order (back to front). M = NUM_POINTS, P = len(PARTS).

    points (N,M,2) image px (the first 17 are the COCO keypoints); depth (N,M) toward the camera in
    units of height; facing (N,17) False where the head hides a face keypoint; height (N,) standing
    height px; widths (N,P) part widths px; colours (N,P,3) RGB; hair (N,3) RGB; head_axes (N,2) px;
    head_angle (N,) degrees; head_back (N,) the image x-direction of the back of the head (-1..1).
    """

    points: np.ndarray
    depth: np.ndarray
    facing: np.ndarray
    height: np.ndarray
    widths: np.ndarray
    colours: np.ndarray
    hair: np.ndarray
    head_axes: np.ndarray
    head_angle: np.ndarray
    head_back: np.ndarray

    def __len__(self) -> int:
        return len(self.height)

    def select(self, index) -> "People":
        """The people at `index` (indices, slice or boolean mask), keeping their order."""
        index = np.atleast_1d(np.arange(len(self))[index])
        return People(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


def _sample_angles(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Joint angles in degrees by pose class; arm/leg arrays are (n, 2) for (left, right)."""
    pose = rng.choice(len(_POSES), size=n, p=_POSE_PROBS)
    is_ = {name: (pose == i)[:, None] for i, name in enumerate(_POSES)}
    two = (n, 2)
    # standing defaults
    arm_f = rng.normal(5, 12, two)
    arm_a = rng.uniform(3, 25, two)
    elbow = rng.uniform(0, 50, two)
    fore_da = rng.normal(0, 8, two)
    leg_f = rng.normal(0, 5, two)
    leg_a = rng.uniform(0, 12, two)
    knee = rng.uniform(0, 12, two)
    lean_f = rng.normal(0, 5, n)
    lean_s = np.where(rng.random(n) < 0.1, rng.uniform(-25, 25, n), rng.normal(0, 4, n))

    # walking: legs swing in opposition, arms against the legs
    swing = rng.uniform(12, 35, n)[:, None] * np.where(rng.random(n) < 0.5, 1, -1)[:, None] * [1, -1]
    leg_f = np.where(is_["walking"], swing, leg_f)
    knee = np.where(is_["walking"], np.where(swing < 0, rng.uniform(15, 50, two), rng.uniform(0, 20, two)), knee)
    arm_f = np.where(is_["walking"], -swing * rng.uniform(0.5, 1.0, two), arm_f)
    elbow = np.where(is_["walking"], rng.uniform(10, 60, two), elbow)

    # gesturing: each arm raised sideways or forward, forearm bent anywhere up to overhead
    raised = is_["gesturing"] & (rng.random(two) < 0.75)
    arm_a = np.where(raised, rng.uniform(30, 170, two), arm_a)
    arm_f = np.where(raised, rng.uniform(-10, 90, two), arm_f)
    elbow = np.where(raised, rng.uniform(0, 90, two), elbow)
    bend_up = np.where(rng.random(two) < 0.5, rng.uniform(40, 100, two), rng.normal(0, 20, two))
    fore_da = np.where(raised, bend_up, fore_da)

    # sitting and crouching: thighs forward, knees bent, hands toward the lap
    for name, hip, bend, lean, arm in (("sitting", (70, 100), (60, 100), (-15, 15), (0, 40)),
                                       ("crouching", (95, 130), (110, 145), (20, 50), (20, 80))):
        leg_f = np.where(is_[name], rng.uniform(*hip, two), leg_f)
        knee = np.where(is_[name], rng.uniform(*bend, two), knee)
        leg_a = np.where(is_[name], rng.uniform(0, 30, two), leg_a)
        lean_f = np.where(is_[name][:, 0], rng.uniform(*lean, n), lean_f)
        arm_f = np.where(is_[name], rng.uniform(*arm, two), arm_f)
        elbow = np.where(is_[name], rng.uniform(20, 90, two), elbow)

    # bending: torso forward, arms hanging under gravity, knees soft
    lean_f = np.where(is_["bending"][:, 0], rng.uniform(30, 75, n), lean_f)
    arm_f = np.where(is_["bending"], rng.normal(0, 20, two), arm_f)
    knee = np.where(is_["bending"], rng.uniform(0, 25, two), knee)

    yaw = np.where(rng.random(n) < 0.55, rng.normal(0, 30, n), rng.uniform(-180, 180, n))
    return {
        "arm_f": arm_f, "arm_a": arm_a, "fore_f": arm_f + elbow, "fore_a": np.clip(arm_a + fore_da, -30, 200),
        "leg_f": leg_f, "leg_a": leg_a, "shin_f": leg_f - knee, "shin_a": 0.5 * leg_a,
        "lean_f": lean_f, "lean_s": lean_s, "yaw": yaw,
        "head_yaw": np.clip(rng.normal(0, 20, n), -60, 60), "roll": np.clip(rng.normal(0, 5, n), -15, 15),
    }


def _direction(flex: np.ndarray, abduct: np.ndarray) -> np.ndarray:
    """Unit limb directions (n,2,3) in the body frame (x: the person's left, y: up, z: forward).

    flex rotates the hanging limb forward, abduct outward (to the left for the left limb).
    """
    f, a = np.deg2rad(flex), np.deg2rad(abduct)
    side = np.array([1.0, -1.0])
    return np.stack([side * np.sin(a), -np.cos(a) * np.cos(f), np.cos(a) * np.sin(f)], axis=-1)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _body_points(rng: np.random.Generator, angles: dict, n: int):
    """3-D points (n,M,3) in the body frame, pelvis at the origin, units of height; head radii (n,3)."""
    length = rng.uniform(0.94, 1.06, (n, 1))
    build = rng.uniform(0.85, 1.25, n)
    torso = _TORSO * rng.uniform(0.93, 1.07, n)
    shoulders = _SHOULDERS * rng.uniform(0.88, 1.12, n)
    hips = _HIPS * rng.uniform(0.9, 1.15, n)
    radii = np.array(_HEAD_AXES) * rng.uniform(0.92, 1.08, (n, 1))  # (n, 3)

    lf, ls = np.deg2rad(angles["lean_f"]), np.deg2rad(angles["lean_s"])
    spine = _unit(np.stack([np.sin(ls), np.cos(ls) * np.cos(lf), np.cos(ls) * np.sin(lf)], -1))  # (n,3)
    ex = np.array([1.0, 0.0, 0.0])
    lateral = _unit(ex - (spine @ ex)[:, None] * spine)
    forward = np.cross(lateral, spine)
    neck = spine * torso[:, None]
    head = neck + _unit(spine + [0.0, 1.0, 0.0]) * _NECK
    side = np.array([1.0, -1.0])[None, :, None]
    shoulder = neck[:, None] + side * lateral[:, None] * shoulders[:, None, None] / 2  # (n,2,3)
    hip = side * ex * hips[:, None, None] / 2
    elbow = shoulder + _direction(angles["arm_f"], angles["arm_a"]) * (_UPPER_ARM * length)[..., None]
    fore = _direction(angles["fore_f"], angles["fore_a"])
    wrist = elbow + fore * (_FOREARM * length)[..., None]
    knee = hip + _direction(angles["leg_f"], angles["leg_a"]) * (_THIGH * length)[..., None]
    ankle = knee + _direction(angles["shin_f"], angles["shin_a"]) * (_SHIN * length)[..., None]
    hand_end = wrist + fore * _HAND
    toe = ankle + np.array([0.0, -0.02, _FOOT])

    # face points on the head ellipsoid, turned by the head yaw relative to the body
    az = _FACE_AZIMUTH + np.deg2rad(angles["head_yaw"])[:, None]  # (n,5)
    face = np.stack([radii[:, None, 0] * _FACE_RADIUS * np.sin(az),
                     radii[:, None, 1] * np.broadcast_to(_FACE_HEIGHT, az.shape),
                     radii[:, None, 2] * _FACE_RADIUS * np.cos(az)], -1)  # (n,5,3)

    def box(centre, axis_up, levels, half_widths, half_depth):
        corners = [centre + s * axis_up + sx * w[:, None] * lateral + sz * half_depth * forward
                   for s, w in zip(levels, half_widths) for sx in (-1, 1) for sz in (-1, 1)]
        return np.stack(corners, 1)

    arm_w = _WIDTHS["left_upper_arm"] * build
    thigh_w = _WIDTHS["left_thigh"] * build
    chest = box(np.zeros((n, 3)), spine * torso[:, None], (1.06, 0.93, 0.3),
                (0.3 * shoulders, shoulders / 2 + 0.25 * arm_w, hips / 2 + 0.45 * thigh_w), 0.055 * build[:, None])
    pelvis = box(np.zeros((n, 3)), spine * torso[:, None], (0.34, -0.06),
                 (hips / 2 + 0.45 * thigh_w, hips / 2 + 0.4 * thigh_w), 0.05 * build[:, None])
    # (left, right) pairs in a row give COCO order: shoulders, elbows, wrists, hips, knees, ankles
    points = np.concatenate([
        head[:, None] + face, shoulder, elbow, wrist, hip, knee, ankle,
        head[:, None], neck[:, None], hand_end, toe, chest, pelvis], axis=1)
    widths = np.stack([np.zeros(n) if p in ("head", "torso", "pelvis") else _WIDTHS[p] * build for p in PARTS], 1)
    return points, radii, widths


def sample_people(rng: np.random.Generator, n: int, size: int) -> People:
    """Sample n people for a size x size image: poses, views, scales, places, colours; sorted back to front."""
    if n == 0:
        return People(np.zeros((0, NUM_POINTS, 2)), np.zeros((0, NUM_POINTS)), np.zeros((0, 17), bool),
                      np.zeros(0), np.zeros((0, len(PARTS))), np.zeros((0, len(PARTS), 3)), np.zeros((0, 3)),
                      np.zeros((0, 2)), np.zeros(0), np.zeros(0))
    angles = _sample_angles(rng, n)
    body, radii, widths = _body_points(rng, angles, n)  # (n,M,3) units of height
    height, root = _sample_layout(rng, n, size)

    yaw = np.deg2rad(angles["yaw"])[:, None]
    x, y, z = body[..., 0], body[..., 1], body[..., 2]
    image_x = x * np.cos(yaw) + z * np.sin(yaw)
    depth = -x * np.sin(yaw) + z * np.cos(yaw)  # (n,M) toward the camera
    roll = np.deg2rad(angles["roll"])[:, None]
    u = image_x * np.cos(roll) + y * np.sin(roll)
    v = image_x * np.sin(roll) - y * np.cos(roll)
    points = root[:, None] + height[:, None, None] * np.stack([u, v], -1)  # (n,M,2)

    # which face points turn toward the camera, judged on a sphere so that eyes, ears and nose
    # appear and disappear in a consistent order as the head turns
    turn = yaw[:, 0] + np.deg2rad(angles["head_yaw"])
    facing = np.ones((n, 17), bool)
    facing[:, :5] = _FACE_RADIUS * np.cos(_FACE_AZIMUTH + turn[:, None]) > _FACE_MIN_DEPTH
    facing[:, 1:3] &= facing[:, :1]
    head_w = np.hypot(radii[:, 0] * np.cos(turn), radii[:, 2] * np.sin(turn))
    neck_dir = points[:, HEAD] - points[:, NECK]
    tilt = np.degrees(np.arctan2(neck_dir[:, 0], -neck_dir[:, 1]))
    colours, hair = _sample_colours(rng, n)

    # draw the small (far) people first; the noise keeps size from deciding depth alone
    order = np.argsort(height * np.exp(rng.normal(0, 0.15, n)), kind="stable")
    people = People(points=points, depth=depth, facing=facing, height=height,
                    widths=np.maximum(widths * height[:, None], 1.0), colours=colours, hair=hair,
                    head_axes=np.stack([head_w, radii[:, 1]], 1) * height[:, None],
                    head_angle=tilt, head_back=-np.sin(turn))
    return people.select(order)


def _sample_layout(rng: np.random.Generator, n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Standing heights (n,) px and pelvis positions (n,2): scattered, or packed in overlapping rows."""
    top = max(0.95 * size / n ** 0.3, MIN_HEIGHT * 1.2)
    typical = np.exp(rng.uniform(np.log(MIN_HEIGHT * 1.2), np.log(top)))
    height = np.clip(typical * np.exp(rng.normal(0, 0.3, n)), MIN_HEIGHT, 1.3 * size)

    def place(h):  # pelvis height: up to about a quarter of a person over the top or bottom edge
        return rng.uniform(0.25 * h, size - 0.25 * h)

    root = np.stack([rng.uniform(-0.05, 1.05, n) * size, place(height)], 1)
    if n >= 2 and rng.random() < 0.45:
        in_row = rng.random(n) < rng.uniform(0.6, 1.0)
        gap = typical * rng.uniform(0.12, 0.4)
        slot = rng.permutation(n) - (n - 1) / 2
        centre = np.array([rng.uniform(0.15, 0.85) * size, float(place(np.array(typical)))])
        row = centre + np.stack([slot * gap, np.zeros(n)], 1) + rng.normal(0, 0.1, (n, 2)) * typical
        root = np.where(in_row[:, None], row, root)
    return height, root


def _sample_colours(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-part colours (n,P,3): skin, shirt, trousers and shoes, with the left/right tints."""
    skin = np.clip(_SKIN[rng.integers(0, len(_SKIN), n)] + rng.normal(0, 8, (n, 3)), 0, 255)
    hsv = np.stack([rng.uniform(0, 180, (n, 3)), rng.uniform(40, 255, (n, 3)),
                    np.stack([rng.uniform(40, 255, n), rng.uniform(25, 200, n), rng.uniform(15, 120, n)], 1)], -1)
    shirt, trousers, shoes = cv2.cvtColor(hsv.astype(np.uint8).reshape(n, 3, 3), cv2.COLOR_HSV2RGB) \
        .astype(np.float64).transpose(1, 0, 2)
    hair = np.clip(_HAIR[rng.integers(0, len(_HAIR), n)] + rng.normal(0, 6, (n, 3)), 0, 255)
    base = {"head": skin, "neck": skin, "torso": shirt, "pelvis": trousers}
    for side, tint in (("left", lighter), ("right", darker)):
        base |= {f"{side}_upper_arm": tint(shirt), f"{side}_forearm": tint(shirt), f"{side}_hand": skin,
                 f"{side}_thigh": tint(trousers), f"{side}_shin": tint(trousers), f"{side}_foot": tint(shoes)}
    return np.stack([base[p] for p in PARTS], 1), hair


# ----------------------------------------------------------------------------- backgrounds and distractors

def sample_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A textured background (size,size,3) uint8: gradient, blotches, stripes, rectangles and lines."""
    grid = int(rng.integers(3, 12))
    c0, c1 = rng.uniform(0, 255, (2, 3))
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.linspace(0, 1, grid)
    t = np.cos(angle) * ramp[None, :] + np.sin(angle) * ramp[:, None]
    t = (t - t.min()) / np.ptp(t)
    small = c0 + (c1 - c0) * t[..., None] + rng.normal(0, rng.uniform(5, 40), (grid, grid, 3))
    # the gradient is linear, so computing it on the coarse grid and resizing loses nothing
    image = cv2.resize(np.clip(small, 0, 255).astype(np.uint8), (size, size), interpolation=cv2.INTER_CUBIC)
    if rng.random() < 0.3:
        a, period, amplitude = rng.uniform(0, np.pi), rng.uniform(6, 60), rng.uniform(5, 30)
        ramp = np.arange(size, dtype=np.float32) * np.float32(2 * np.pi / period)
        stripes = np.sin(np.float32(np.cos(a)) * ramp[None, :] + np.float32(np.sin(a)) * ramp[:, None])
        stripes = ((stripes + 1) * np.float32(amplitude)).astype(np.uint8)
        image = cv2.subtract(cv2.add(image, cv2.merge([stripes] * 3)), _grey(int(amplitude)))
    for _ in range(rng.integers(0, 10)):
        p0, p1 = rng.uniform(-0.1, 1.1, (2, 2)) * size
        thick = -1 if rng.random() < 0.6 else int(rng.integers(1, 6))
        cv2.rectangle(image, tuple(int(v) for v in p0), tuple(int(v) for v in p1), _colour(rng), thick)
    for _ in range(rng.integers(0, 12)):
        p0, p1 = rng.uniform(-0.1, 1.1, (2, 2)) * size
        cv2.line(image, tuple(int(v) for v in p0), tuple(int(v) for v in p1), _colour(rng),
                 int(rng.integers(1, 5)), cv2.LINE_AA)
    return image


def _grey(value: int) -> tuple[int, int, int, int]:
    """A cv2 scalar with the same value in every channel (a bare number means the first one in OpenCV 4)."""
    return (value, value, value, 0)


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(0, 256, 3))


def sample_distractors(rng: np.random.Generator, size: int, count: int) -> list[tuple]:
    """Shapes that are not people: blobs, polygons, sticks and bent sticks (some skin-coloured)."""
    shapes = []
    for _ in range(count):
        kind = rng.choice(("ellipse", "poly", "stick", "bent"), p=(0.35, 0.2, 0.25, 0.2))
        extent = size * np.exp(rng.uniform(np.log(0.02), np.log(0.2)))
        centre = rng.uniform(0, 1, 2) * size
        skin = rng.random() < 0.3
        colour = tuple(float(c) for c in (_SKIN[rng.integers(0, len(_SKIN))] if skin else rng.integers(0, 256, 3)))
        if kind == "ellipse":
            axes = extent * rng.uniform(0.2, 1.0, 2)
            shapes.append(("ellipse", centre, axes, float(rng.uniform(0, 180)), colour))
        elif kind == "poly":
            shapes.append(("poly", centre + rng.normal(0, extent / 2, (int(rng.integers(3, 7)), 2)), colour))
        else:
            width = max(1.0, extent * rng.uniform(0.05, 0.2))
            a = rng.uniform(0, 2 * np.pi)
            joints = [centre, centre + extent * np.array([np.cos(a), np.sin(a)])]
            if kind == "bent":
                a += rng.uniform(0.5, 2.5) * rng.choice((-1, 1))
                joints.append(joints[1] + extent * rng.uniform(0.5, 1) * np.array([np.cos(a), np.sin(a)]))
            shapes.append(("stick", np.array(joints), width, colour))
    return shapes


def _fixed(points: np.ndarray) -> np.ndarray:
    """Image px (cv2 convention: integer = pixel centre) to cv2 sub-pixel integers."""
    return np.round(np.asarray(points) * _ONE).astype(np.int32)


def _draw_shape(image: np.ndarray, shape: tuple, colour=None, line=cv2.LINE_AA) -> None:
    kind = shape[0]
    colour = shape[-1] if colour is None else colour
    if kind == "ellipse":
        _, centre, axes, angle, _ = shape
        cv2.ellipse(image, tuple(_fixed(centre)), tuple(_fixed(axes)), angle, 0, 360, colour, -1, line, _SHIFT)
    elif kind == "poly":
        hull = cv2.convexHull(_fixed(shape[1]))
        cv2.fillConvexPoly(image, hull, colour, line, _SHIFT)
    else:
        _, joints, width, _ = shape
        fixed = _fixed(joints)
        for a, b in zip(fixed[:-1], fixed[1:]):
            cv2.line(image, tuple(a), tuple(b), colour, int(round(width)), line, _SHIFT)


# ----------------------------------------------------------------------------- drawing and labelling

def _part_depth_weights() -> tuple[np.ndarray, np.ndarray]:
    """(P,M) weights and (P,) offsets so that depth (N,M) @ weights.T + offsets is each part's depth."""
    weights, offsets = np.zeros((len(PARTS), NUM_POINTS)), np.zeros(len(PARTS))
    for part, name in enumerate(PARTS):
        if name in _LIMBS:
            weights[part, list(_LIMBS[name])] = 0.5
            offsets[part] = 0.01 if name.endswith(("hand", "foot")) else 0.0  # over the limb they end
        elif name in ("torso", "pelvis"):
            corners = TORSO_CORNERS if name == "torso" else PELVIS_CORNERS
            weights[part, corners] = 1 / len(corners)
        else:
            weights[part, HEAD], offsets[part] = 1.0, 0.02  # the face, in front of the neck
    return weights, offsets


_PART_DEPTH_WEIGHTS, _PART_DEPTH_OFFSETS = _part_depth_weights()


def _draw_person(image: np.ndarray, labels: np.ndarray, people: People, i: int, parts: np.ndarray) -> None:
    """Draw person i's parts in the order given onto the RGB image, and their labels onto the label map."""
    pts = _fixed(people.points[i])
    for part in parts:
        name, label = PARTS[part], (i << _PART_BITS) + int(part) + 1
        colour = tuple(float(c) for c in people.colours[i, part])
        if name in _LIMBS:
            a, b = (tuple(pts[j]) for j in _LIMBS[name])
            width = int(round(people.widths[i, part]))
            cv2.line(image, a, b, colour, width, cv2.LINE_AA, _SHIFT)
            cv2.line(labels, a, b, label, width, cv2.LINE_8, _SHIFT)
        elif name in ("torso", "pelvis"):
            hull = cv2.convexHull(pts[TORSO_CORNERS if name == "torso" else PELVIS_CORNERS])
            cv2.fillConvexPoly(image, hull, colour, cv2.LINE_AA, _SHIFT)
            cv2.fillConvexPoly(labels, hull, label, cv2.LINE_8, _SHIFT)
        else:
            _draw_head(image, labels, people, i, pts, colour, label)


def _draw_head(image, labels, people: People, i: int, pts: np.ndarray, skin, label) -> None:
    """Head ellipse, hair, and the face cues of the face keypoints that face the camera."""
    h = people.height[i]
    centre, axes = tuple(pts[HEAD]), tuple(_fixed(people.head_axes[i]))
    angle = float(people.head_angle[i])
    hair = tuple(float(c) for c in people.hair[i])
    facing = people.facing[i]
    back_view = not facing[0]
    cv2.ellipse(labels, centre, axes, angle, 0, 360, label, -1, cv2.LINE_8, _SHIFT)
    cv2.ellipse(image, centre, axes, angle, 0, 360, hair if back_view else skin, -1, cv2.LINE_AA, _SHIFT)
    if not back_view:  # a cap of hair on the top and back of the head
        ax, ay = people.head_axes[i]
        cap = people.points[i, HEAD] + [people.head_back[i] * 0.3 * ax, -0.3 * ay]
        cap_centre, cap_axes = tuple(_fixed(cap)), tuple(_fixed([1.02 * ax, 0.75 * ay]))
        cap_angle = angle + 25 * people.head_back[i]
        cv2.ellipse(image, cap_centre, cap_axes, cap_angle, 180, 360, hair, -1, cv2.LINE_AA, _SHIFT)
        cv2.ellipse(labels, cap_centre, cap_axes, cap_angle, 180, 360, label, -1, cv2.LINE_8, _SHIFT)
    darker_skin = tuple(0.8 * c for c in skin)
    for k in (3, 4):  # ears
        if facing[k]:
            ear = tuple(_fixed([0.012 * h, 0.022 * h]))
            cv2.ellipse(image, tuple(pts[k]), ear, angle, 0, 360, darker_skin, -1, cv2.LINE_AA, _SHIFT)
            cv2.ellipse(labels, tuple(pts[k]), ear, angle, 0, 360, label, -1, cv2.LINE_8, _SHIFT)
    if facing[0]:  # nose
        radius = int(round(0.011 * h * _ONE))
        cv2.circle(image, tuple(pts[0]), radius, tuple(0.7 * c for c in skin), -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(labels, tuple(pts[0]), radius, label, -1, cv2.LINE_8, _SHIFT)
    for k in (1, 2):  # eyes
        if facing[k]:
            cv2.circle(image, tuple(pts[k]), int(round(0.009 * h * _ONE)), (25, 25, 30), -1, cv2.LINE_AA, _SHIFT)


@dataclass
class SynthAnnotations:
    """Ground truth of one synthetic image, one row per annotated person (back to front).

    keypoints (N,17,3) float64 x, y, v; bboxes (N,4) xywh of the visible mask; areas (N,) its pixel
    count; person_index (N,) the row of each person in the People that were drawn.
    """

    keypoints: np.ndarray
    bboxes: np.ndarray
    areas: np.ndarray
    person_index: np.ndarray

    def __len__(self) -> int:
        return len(self.areas)

    @property
    def num_keypoints(self) -> np.ndarray:
        return (self.keypoints[..., 2] > 0).sum(-1)

    @property
    def crowd_index(self) -> float:
        return crowd_index(self.keypoints, self.bboxes)


def render_scene(background: np.ndarray, people: People,
                 foreground: list[tuple] = ()) -> tuple[np.ndarray, SynthAnnotations]:
    """Draw people (back to front) and then the foreground shapes onto a copy of the background.

    Returns the RGB image (H,W,3) uint8 and its annotations; the scene is drawn exactly, with no noise.
    """
    image = background.copy()
    labels = np.zeros(image.shape[:2], dtype=np.int32)  # 0: no person; else (i << _PART_BITS) + part + 1
    part_depth = people.depth @ _PART_DEPTH_WEIGHTS.T + _PART_DEPTH_OFFSETS  # (N,P)
    part_order = np.argsort(part_depth, axis=1, kind="stable")  # each person's parts, back to front
    for i in range(len(people)):
        _draw_person(image, labels, people, i, part_order[i])
    for shape in foreground:
        _draw_shape(image, shape)
        _draw_shape(labels, shape, colour=0, line=cv2.LINE_8)
    return image, annotate(people, labels)


def annotate(people: People, labels: np.ndarray) -> SynthAnnotations:
    """Keypoint visibility, visible-mask areas and boxes from a part-label map (H,W) int32."""
    n, (h, w) = len(people), labels.shape
    kpts = np.round(people.points[:, :17], 2)  # (n,17,2), rounded as written to JSON
    inside = (kpts >= 0).all(-1) & (kpts[..., 0] <= w - 1) & (kpts[..., 1] <= h - 1)
    col = np.clip(np.rint(kpts[..., 0]), 0, w - 1).astype(np.int64)
    row = np.clip(np.rint(kpts[..., 1]), 0, h - 1).astype(np.int64)
    owner = labels[row, col].astype(np.int64) - 1  # (n,17), -1 = nobody
    own = (owner >= 0) & (owner >> _PART_BITS == np.arange(n)[:, None])
    right_part = (KEYPOINT_PART_BITS >> (owner & ((1 << _PART_BITS) - 1))) & 1 == 1
    visible = inside & own & right_part & people.facing
    v = np.where(inside, np.where(visible, 2, 1), 0)
    keypoints = np.concatenate([np.where(inside[..., None], kpts, 0.0), v[..., None]], -1)

    person = (labels - 1) >> _PART_BITS  # (h,w), -1 = nobody
    areas = np.bincount(person.ravel() + 1, minlength=n + 1)[1:]
    mask = person[None] == np.arange(n, dtype=np.int32)[:, None, None]  # (n,h,w)
    rows, cols = mask.any(2), mask.any(1)
    y0, y1 = rows.argmax(1), h - 1 - rows[:, ::-1].argmax(1)
    x0, x1 = cols.argmax(1), w - 1 - cols[:, ::-1].argmax(1)
    bboxes = np.stack([x0, y0, x1 - x0 + 1, y1 - y0 + 1], 1).astype(np.float64)
    keep = areas >= MIN_VISIBLE_AREA
    return SynthAnnotations(keypoints[keep], bboxes[keep], areas[keep].astype(np.float64), np.flatnonzero(keep))


def crowd_index(keypoints: np.ndarray, bboxes: np.ndarray) -> float:
    """CrowdPose's Crowd Index of one image: (1/n) sum_i N_b(i) / N_a(i).

    keypoints (N,K,3), bboxes (N,4) xywh. N_a(i) counts person i's labelled (v>0) keypoints and
    N_b(i) the labelled keypoints of the other people inside box i (edges included). People without
    labelled keypoints are left out; fewer than two people left gives 0.
    """
    keypoints, bboxes = np.asarray(keypoints, np.float64), np.asarray(bboxes, np.float64)
    labelled = keypoints[..., 2] > 0  # (N,K)
    own = labelled.sum(1)
    people = own > 0
    if people.sum() < 2:
        return 0.0
    kpts, labelled, own, boxes = keypoints[people, :, :2], labelled[people], own[people], bboxes[people]
    lo, hi = boxes[:, None, None, :2], (boxes[:, :2] + boxes[:, 2:])[:, None, None]
    inside = ((kpts[None] >= lo) & (kpts[None] <= hi)).all(-1) & labelled[None]  # (box, person, K)
    inside[np.arange(len(boxes)), np.arange(len(boxes))] = False
    return float(np.mean(inside.sum((1, 2)) / own))


def render_image(rng: np.random.Generator, size: int = 640, max_people: int = 8) -> tuple[np.ndarray, SynthAnnotations]:
    """One random image (size,size,3) uint8 RGB and its annotations (see the module docstring)."""
    n = 0 if rng.random() < 0.08 or max_people == 0 else int(rng.integers(1, max_people + 1))
    background = sample_background(rng, size)
    for shape in sample_distractors(rng, size, int(rng.integers(0, 7))):
        _draw_shape(background, shape)
    people = sample_people(rng, n, size)
    foreground = sample_distractors(rng, size, int(rng.integers(0, 3))) if rng.random() < 0.3 else []
    image, annotations = render_scene(background, people, foreground)
    return _camera(rng, image), annotations


def _camera(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Blur, sensor noise, gain and offset, all with saturating uint8 arithmetic."""
    if rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 1.0))
    amplitude = int(rng.integers(0, 9))
    if amplitude:
        noise = np.frombuffer(rng.bytes(image.size), np.uint8).reshape(image.shape)
        noise = cv2.LUT(noise, (np.arange(256) * (2 * amplitude + 1) >> 8).astype(np.uint8))  # 0..2a
        image = cv2.subtract(cv2.add(image, noise), _grey(amplitude))
    gain, offset = rng.uniform(0.8, 1.2), rng.uniform(-20, 20)
    return cv2.LUT(image, np.clip(np.arange(256) * gain + offset, 0, 255).astype(np.uint8))


def render_index(seed: int, index: int, size: int = 640, max_people: int = 8) -> tuple[np.ndarray, SynthAnnotations]:
    """Image `index` of the dataset generated with `seed`: what `generate` writes, in memory."""
    return render_image(np.random.default_rng([int(seed), int(index)]), size, max_people)


# ----------------------------------------------------------------------------- datasets on disk

def _write_one(job: tuple) -> tuple:
    out_dir, seed, index, size, max_people = job
    rgb, ann = render_index(seed, index, size, max_people)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    # written in place: annotations.json, written last, is what makes a set complete
    buf.tofile(str(Path(out_dir) / "images" / image_name(index)))
    return ann.keypoints, ann.bboxes, ann.areas, ann.crowd_index


def _init_worker() -> None:
    cv2.setNumThreads(1)


DESCRIPTION = "posekit synthetic multi-person poses"  # annotations.json's info.description


def image_name(index: int) -> str:
    return f"{index:06d}.jpg"


def generate(out_dir: str | Path, num_images: int, seed: int = 0, size: int = 640, max_people: int = 8,
             skeleton: str | Skeleton = "coco", workers: int | None = None, progress: bool = False) -> Path:
    """Write a synthetic dataset: out_dir/images/000000.jpg ... and out_dir/annotations.json.

    Image i is `render_index(seed, i, size, max_people)`; its COCO id is i + 1 and its image entry
    carries `crowdIndex`. annotations.json is removed first and written last (atomically), so an
    interrupted run leaves none. workers: processes (default: up to 2, one for small sets).
    Returns the path of annotations.json.
    """
    _check(num_images, "num_images", 0)
    _check(size, "size", 64)
    _check(max_people, "max_people", 0)
    _check(seed, "seed", 0)
    skel = get_skeleton(skeleton)
    if skel.keypoints != SKELETONS["coco"].keypoints:
        raise ConfigError(f"the synthetic generator draws COCO-17 people, not '{skel.name}': use skeleton='coco'")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file: pass a directory for the synthetic dataset")
    (out / "images").mkdir(parents=True, exist_ok=True)
    target = out / "annotations.json"
    target.unlink(missing_ok=True)

    jobs = [(str(out), int(seed), i, int(size), int(max_people)) for i in range(num_images)]
    workers = min(2, os.cpu_count() or 1) if workers is None else max(1, int(workers))
    if num_images < 8:
        workers = 1
    if workers > 1:
        # spawn, not fork: a fork taken while torch/OpenCV threads hold locks can hang the workers
        with multiprocessing.get_context("spawn").Pool(workers, initializer=_init_worker) as pool:
            results = list(_progress(pool.imap(_write_one, jobs, chunksize=4), num_images, progress))
    else:
        results = [_write_one(job) for job in _progress(jobs, num_images, progress)]

    counts = [len(r[2]) for r in results]
    images = [{"id": i + 1, "file_name": image_name(i), "width": int(size), "height": int(size),
               "crowdIndex": round(r[3], 4)} for i, r in enumerate(results)]
    k = skel.num_keypoints
    data = coco_dict(images,
                     np.concatenate([r[0] for r in results]) if results else np.zeros((0, k, 3)),
                     np.concatenate([r[1] for r in results]) if results else np.zeros((0, 4)),
                     np.concatenate([r[2] for r in results]) if results else np.zeros(0),
                     np.repeat(np.arange(1, num_images + 1), counts), skel)
    data["info"] = {"description": DESCRIPTION, "seed": int(seed),
                    "size": int(size), "max_people": int(max_people)}
    write_coco(target, data)
    return target


def _check(value, name: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _progress(iterable, total: int, enabled: bool):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc="synth", unit="img")
