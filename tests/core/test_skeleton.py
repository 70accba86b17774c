"""Skeletons: built-ins against MMPose's metainfo, and the custom YAML loader's checks."""

import textwrap

import numpy as np
import pytest

from posekit.core.errors import ConfigError
from posekit.core.skeleton import SKELETONS, Skeleton, get_skeleton, load_skeleton

GOOD_YAML = """
name: hand3
keypoints: [wrist, left_tip, right_tip, centre]
flip_pairs: [[left_tip, right_tip]]
sigmas: [0.1, 0.2, 0.2, 0.3]
links: [[wrist, left_tip], [wrist, 2], [wrist, centre]]
"""


def write(tmp_path, text, name="skeleton.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_coco_matches_mmpose_metainfo():
    coco = SKELETONS["coco"]
    assert coco.num_keypoints == 17 and coco.keypoints[0] == "nose" and coco.keypoints[16] == "right_ankle"
    assert coco.flip_indices == [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
    np.testing.assert_array_equal(coco.sigmas_array, [.026, .025, .025, .035, .035, .079, .079, .072, .072,
                                                      .062, .062, .107, .107, .087, .087, .089, .089])
    assert len(coco.links) == 19 and (15, 13) in coco.links


def test_crowdpose_matches_mmpose_metainfo():
    crowd = SKELETONS["crowdpose"]
    assert crowd.flip_indices == [1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 12, 13]
    assert crowd.keypoints[12:] == ("top_head", "neck")
    assert len(crowd.sigmas) == 14 and len(crowd.links) == 15


@pytest.mark.parametrize("name,k", [("coco", 17), ("crowdpose", 14), ("aic", 14), ("ochuman", 17)])
def test_every_builtin_is_consistent(name, k):
    skeleton = get_skeleton(name)
    assert skeleton.num_keypoints == k and len(skeleton.sigmas) == k
    flip = np.array(skeleton.flip_indices)
    np.testing.assert_array_equal(flip[flip], np.arange(k))  # a flip twice is the identity
    for i, j in enumerate(flip):
        if i != j:
            assert {skeleton.side(i), skeleton.side(j)} == {"left", "right"}
    assert all(0 <= a < k and 0 <= b < k for a, b in skeleton.links)
    assert len(skeleton.keypoint_colours) == k and len(skeleton.link_colours) == len(skeleton.links)


def test_coco_category_numbers_links_from_one():
    category = SKELETONS["coco"].coco_category()
    assert category["keypoints"][0] == "nose" and category["skeleton"][0] == [16, 14]


def test_colours_follow_the_side():
    coco = SKELETONS["coco"]
    colours = coco.keypoint_colours
    assert colours[0] != colours[1] != colours[2] and colours[1] == colours[3]


def test_get_skeleton_passes_through_and_rejects_unknown_names():
    assert get_skeleton(SKELETONS["aic"]) is SKELETONS["aic"]
    with pytest.raises(ConfigError, match="unknown skeleton 'mpii'.*coco"):
        get_skeleton("mpii")


def test_custom_yaml_loads(tmp_path):
    skeleton = get_skeleton(str(write(tmp_path, GOOD_YAML)))
    assert isinstance(skeleton, Skeleton)
    assert skeleton.name == "hand3" and skeleton.num_keypoints == 4
    assert skeleton.flip_indices == [0, 2, 1, 3]
    assert skeleton.links == ((0, 1), (0, 2), (0, 3))
    assert skeleton.sigmas == (0.1, 0.2, 0.2, 0.3)


def test_custom_yaml_without_sigmas_uses_one_over_k(tmp_path):
    skeleton = load_skeleton(write(tmp_path, "keypoints: [a, b, c, d]\n"))
    assert skeleton.sigmas == (0.25,) * 4 and skeleton.flip_pairs == ()


BAD_CASES = {
    "unpaired": ("keypoints: [left_eye, right_eye, nose]\nflip_pairs: []\n",
                 r"'left_eye' has a mirror 'right_eye' but no flip pair"),
    "wrong pair": ("keypoints: [left_knee, right_knee, left_ankle, right_ankle]\n"
                   "flip_pairs: [[left_knee, right_ankle], [right_knee, left_ankle]]\n",
                   r"flip pair \(left_knee, right_ankle\) does not join a left_x with its right_x"),
    "sigma count": ("keypoints: [a, b, c]\nsigmas: [0.1, 0.2]\n",
                    r"'sigmas' needs one value per keypoint \(3\), got 2"),
    "negative sigma": ("keypoints: [a, b]\nsigmas: [0.1, -0.2]\n", "positive"),
    "unknown name": ("keypoints: [a, b]\nlinks: [[a, elbow]]\n",
                     r"'links' names 'elbow', which is not a keypoint"),
    "index out of range": ("keypoints: [a, b]\nlinks: [[0, 5]]\n",
                           r"entry 5 is neither a keypoint name nor an index in 0..1"),
    "duplicate names": ("keypoints: [a, b, a]\n", r"keypoint names must be unique, repeated: \['a'\]"),
    "pair twice": ("keypoints: [left_a, right_a]\nflip_pairs: [[left_a, right_a], [right_a, left_a]]\n",
                   "more than one flip pair"),
    "not pairs": ("keypoints: [a, b]\nlinks: [[a, b, a]]\n", "'links' must be a list of pairs"),
    "unknown field": ("keypoints: [a]\ncolours: [red]\n", r"unknown field\(s\) \['colours'\]"),
    "empty keypoints": ("keypoints: []\n", "'keypoints' must be a non-empty list"),
    "bad yaml": ("keypoints: [a, b\n", "is not valid YAML"),
    "not a mapping": ("- a\n- b\n", "must be a mapping"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_yaml_raises_config_error_naming_the_problem(tmp_path, case):
    text, message = BAD_CASES[case]
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_skeleton(path)
    assert "\n" not in str(info.value)  # the CLI prints it as one line


def test_missing_skeleton_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_skeleton(tmp_path / "nope.yaml")
