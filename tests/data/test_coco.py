"""COCO keypoint files: reading into arrays, writing back, and one clear error per malformation."""

import copy
import json

import numpy as np
import pytest

from posekit.core.errors import InputError
from posekit.core.skeleton import SKELETONS
from posekit.data.coco import coco_dict, load_coco, read_json, write_coco


def sample(num_people=3, k=17, seed=0):
    rng = np.random.default_rng(seed)
    xy, v = rng.uniform(0, 200, (num_people, k, 2)), rng.integers(0, 3, (num_people, k, 1))
    kpts = np.concatenate([xy, v], -1)
    kpts[..., :2] *= kpts[..., 2:] > 0
    bboxes = np.tile([[10.0, 20.0, 50.0, 100.0]], (num_people, 1))
    images = [{"id": 7, "file_name": "a.jpg", "width": 640, "height": 480},
              {"id": 9, "file_name": "b.jpg", "width": 320, "height": 240}]
    return coco_dict(images, kpts, bboxes, np.full(num_people, 4000.0), np.array([7, 9, 7][:num_people]),
                     SKELETONS["coco"])


def test_write_then_load(tmp_path):
    data = sample()
    path = tmp_path / "ann.json"
    write_coco(path, data)
    coco = load_coco(path)
    assert coco.path == path and coco.num_keypoints_per_person == 17
    np.testing.assert_array_equal(coco.image_ids, [7, 9])
    np.testing.assert_array_equal(coco.ann_ids, [1, 2, 3])
    np.testing.assert_array_equal(coco.ann_image_ids, [7, 9, 7])
    expected = np.asarray([a["keypoints"] for a in data["annotations"]]).reshape(3, 17, 3)
    np.testing.assert_array_equal(coco.keypoints, expected)
    np.testing.assert_array_equal(coco.bboxes[0], [10, 20, 50, 100])
    np.testing.assert_array_equal(coco.areas, [4000.0] * 3)
    np.testing.assert_array_equal(coco.num_keypoints, (expected[..., 2] > 0).sum(-1))
    assert not coco.iscrowd.any()
    np.testing.assert_array_equal(coco.annotation_rows(7), [0, 2])
    assert coco.image_by_id()[9]["file_name"] == "b.jpg"
    assert not list(tmp_path.glob(".*tmp"))  # the atomic write left no temporary file


def test_defaults_for_optional_fields():
    data = sample(1)
    ann = data["annotations"][0]
    for field in ("area", "iscrowd", "num_keypoints"):
        del ann[field]
    data["categories"] = []
    coco = load_coco(data)
    assert coco.areas[0] == 50 * 100 and not coco.iscrowd[0]
    assert coco.num_keypoints[0] == (coco.keypoints[0, :, 2] > 0).sum()
    assert coco.num_keypoints_per_person == 17  # taken from the annotation's length


def test_no_annotations_and_other_keypoint_counts():
    empty = load_coco({"images": [{"id": 1}], "annotations": []})
    assert empty.keypoints.shape == (0, 17, 3) and empty.bboxes.shape == (0, 4)
    crowd = load_coco(sample(2, k=14), num_keypoints=14)
    assert crowd.keypoints.shape == (2, 14, 3)


def broken(edit):
    data = sample()
    edit(data)
    return data


MALFORMED = {
    "missing images": (lambda d: d.pop("images"), "needs 'images' and 'annotations' lists"),
    "images not a list": (lambda d: d.update(images={}), "needs 'images' and 'annotations' lists"),
    "no keypoints": (lambda d: d["annotations"][1].pop("keypoints"), r"annotation 2 lacks \['keypoints'\]"),
    "wrong keypoint count": (lambda d: d["annotations"][0].update(keypoints=[1, 2, 2] * 16),
                             r"annotation 1 has 48 keypoint values, expected 51 \(17 keypoints x 3\)"),
    "unknown image": (lambda d: d["annotations"][2].update(image_id=99),
                      "annotation 3 refers to image 99, which is not listed"),
    "negative size": (lambda d: d["annotations"][0].update(bbox=[0, 0, -5, 10]), "negative width or height"),
    "bbox not xywh": (lambda d: d["annotations"][0].update(bbox=[0, 0, 5]), r"not \[x, y, w, h\]"),
    "strings": (lambda d: d["annotations"][0]["keypoints"].__setitem__(0, "x"), "non-numbers"),
    "image without id": (lambda d: d["images"][0].pop("id"), "an image entry has no 'id'"),
    "repeated image id": (lambda d: d["images"][1].update(id=7), "image ids repeat"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_annotations_raise_input_error(tmp_path, case):
    edit, message = MALFORMED[case]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(broken(edit)))
    with pytest.raises(InputError, match=message) as info:
        load_coco(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_nan_is_rejected(tmp_path):
    data = sample()
    data["annotations"][1]["keypoints"][4] = float("nan")
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(data))  # json writes the NaN literal, which Python reads back
    with pytest.raises(InputError, match="NaN or infinity"):
        load_coco(path)


def test_not_json_and_missing_file(tmp_path):
    path = tmp_path / "ann.json"
    path.write_text("{'images': [")
    with pytest.raises(InputError, match="is not valid JSON"):
        load_coco(path)
    with pytest.raises(InputError, match="does not exist"):
        load_coco(tmp_path / "missing.json")
    with pytest.raises(InputError, match="does not exist"):
        read_json(tmp_path)  # a directory is not a file


def test_load_does_not_change_the_dict():
    data = sample()
    before = copy.deepcopy(data)
    load_coco(data)
    assert data == before
