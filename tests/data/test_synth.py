"""posekit.data.synth: determinism, valid COCO, occlusion that matches the pixels, the left/right cue,
scale range, Crowd Index, and `posekit data synth`."""

import json

import cv2
import numpy as np
import pytest

from posekit.cli import main
from posekit.core.errors import ConfigError, InputError
from posekit.core.skeleton import SKELETONS
from posekit.data import synth
from posekit.data.coco import load_coco

SIZE = 160
LUMA = np.array([0.299, 0.587, 0.114])


@pytest.fixture(scope="module")
def renders():
    """60 images of 160 px with up to 8 people each: (rgb, annotations) pairs."""
    return [synth.render_index(7, i, SIZE, 8) for i in range(60)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "a"
    synth.generate(out, 10, seed=3, size=128, workers=2)
    return out


def pixel(image, xy):
    return image[int(np.rint(xy[1])), int(np.rint(xy[0]))]


# ----------------------------------------------------------------------------- files

def test_generate_is_deterministic_and_independent_of_workers_and_subsets(dataset, tmp_path):
    synth.generate(tmp_path / "b", 10, seed=3, size=128, workers=1)
    synth.generate(tmp_path / "c", 4, seed=3, size=128)
    synth.generate(tmp_path / "d", 10, seed=4, size=128, workers=1)
    a_json = (dataset / "annotations.json").read_bytes()
    assert (tmp_path / "b" / "annotations.json").read_bytes() == a_json
    assert (tmp_path / "d" / "annotations.json").read_bytes() != a_json
    for i in range(10):
        name = synth.image_name(i)
        assert (tmp_path / "b" / "images" / name).read_bytes() == (dataset / "images" / name).read_bytes()
    # the first 4 images of a 10-image set are the 4-image set
    a, c = json.loads(a_json), json.loads((tmp_path / "c" / "annotations.json").read_text())
    assert c["images"] == a["images"][:4]
    first_four = [x["keypoints"] for x in a["annotations"] if x["image_id"] <= 4]
    assert [x["keypoints"] for x in c["annotations"]] == first_four
    assert (tmp_path / "c" / "images" / "000003.jpg").read_bytes() == (dataset / "images" / "000003.jpg").read_bytes()


def test_generated_files_are_valid_coco(dataset):
    coco = load_coco(dataset / "annotations.json")
    assert tuple(coco.categories[0]["keypoints"]) == SKELETONS["coco"].keypoints
    assert len(coco.images) == 10 and coco.image_ids.tolist() == list(range(1, 11))
    for image in coco.images:
        rgb = cv2.imread(str(dataset / "images" / image["file_name"]))
        assert rgb.shape == (128, 128, 3) and (image["width"], image["height"]) == (128, 128)
        assert image["crowdIndex"] >= 0
    np.testing.assert_array_equal(coco.num_keypoints, (coco.keypoints[..., 2] > 0).sum(-1))
    rendered = [synth.render_index(3, i, 128, 8)[1] for i in range(10)]
    np.testing.assert_allclose(coco.keypoints, np.concatenate([r.keypoints for r in rendered]), atol=0.005)
    assert [im["crowdIndex"] for im in coco.images] == [round(r.crowd_index, 4) for r in rendered]


def test_an_interrupted_run_leaves_no_annotations(tmp_path, monkeypatch):
    out = tmp_path / "set"
    synth.generate(out, 2, size=96)
    assert (out / "annotations.json").is_file()
    real = synth.render_index

    def fail_on_third(seed, index, *args):
        if index == 2:
            raise KeyboardInterrupt
        return real(seed, index, *args)

    monkeypatch.setattr(synth, "render_index", fail_on_third)
    with pytest.raises(KeyboardInterrupt):
        synth.generate(out, 4, size=96, workers=1)
    assert not (out / "annotations.json").exists()
    assert not list(out.glob(".annotations.json*"))


def test_generate_rejects_bad_arguments(tmp_path):
    with pytest.raises(ConfigError, match="num_images"):
        synth.generate(tmp_path / "x", -1)
    with pytest.raises(ConfigError, match="size"):
        synth.generate(tmp_path / "x", 1, size=16)
    with pytest.raises(ConfigError, match="COCO-17"):
        synth.generate(tmp_path / "x", 1, skeleton="crowdpose")
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="is a file"):
        synth.generate(tmp_path / "file", 1)


# ----------------------------------------------------------------------------- annotations

def test_annotations_follow_the_coco_rules(renders):
    for image, ann in renders:
        assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8
        kpts, v = ann.keypoints, ann.keypoints[..., 2]
        assert set(np.unique(v)) <= {0, 1, 2}
        assert (kpts[v == 0][:, :2] == 0).all()                              # v=0 => x = y = 0
        labelled = kpts[v > 0][:, :2]
        assert ((labelled >= 0) & (labelled <= SIZE - 1)).all()              # labelled => inside
        x0, y0, w, h = ann.bboxes.T
        assert (ann.areas >= synth.MIN_VISIBLE_AREA).all() and (ann.areas <= w * h).all()
        assert (x0 >= 0).all() and (y0 >= 0).all() and (x0 + w <= SIZE).all() and (y0 + h <= SIZE).all()
        # a visible keypoint's pixel belongs to the visible mask, so it lies in the mask's box
        for kp, (bx, by, bw, bh) in zip(kpts, ann.bboxes):
            seen = kp[kp[:, 2] == 2, :2]
            assert ((seen >= [bx - 0.5, by - 0.5]) & (seen <= [bx + bw - 0.5, by + bh - 0.5])).all()
    assert sum(len(a) == 0 for _, a in renders) >= 1, "some images must have no people"
    assert max(len(a) for _, a in renders) >= 6


def test_occlusion_flags_match_the_pixels():
    """Each person drawn alone vs in the crowd: v=2 in the crowd means v=2 alone with the same pixel;
    v=1 in the crowd but v=2 alone means someone else was drawn over that pixel."""
    rng = np.random.default_rng(11)
    covered = agree = seen = 0
    for _ in range(12):
        background = synth.sample_background(rng, SIZE)
        people = synth.sample_people(rng, 6, SIZE)
        crowd_rgb, crowd = synth.render_scene(background, people)
        for row, i in enumerate(crowd.person_index):
            alone_rgb, alone = synth.render_scene(background, people.select([i]))
            v_crowd, v_alone = crowd.keypoints[row, :, 2], alone.keypoints[0, :, 2]
            same = [np.array_equal(pixel(crowd_rgb, xy), pixel(alone_rgb, xy)) for xy in crowd.keypoints[row]]
            assert (v_alone[v_crowd == 2] == 2).all()
            assert ((v_crowd > 0) == (v_alone > 0)).all()
            seen += (v_crowd == 2).sum()
            agree += sum(same[k] for k in np.flatnonzero(v_crowd == 2))
            hidden = np.flatnonzero((v_crowd == 1) & (v_alone == 2))
            covered += len(hidden)
            assert not any(same[k] for k in hidden)
    assert covered >= 10, "crowds must occlude keypoints"
    assert agree >= 0.97 * seen  # anti-aliased edges of people in front may tint a boundary pixel


def test_crowded_sets_contain_occluded_keypoints(renders):
    v = np.concatenate([a.keypoints[..., 2] for _, a in renders])
    assert 0.05 < (v == 1).sum() / (v > 0).sum() < 0.5
    crowd = np.array([a.crowd_index for _, a in renders])
    assert (crowd == 0).any() and (crowd > 0.8).any()   # CrowdPose's easy and hard both occur


def test_face_visibility_follows_head_yaw():
    people = synth.sample_people(np.random.default_rng(2), 600, 640)
    nose, l_eye, r_eye, l_ear, r_ear = people.facing[:, :5].T
    # turning the face sideways hides an eye, and then the ear on that side too
    assert (~l_eye <= ~l_ear)[nose].all() and (~r_eye <= ~r_ear)[nose].all()
    assert (~nose <= ~l_eye & ~r_eye).all()        # no nose, no eyes: a back view
    assert (l_ear | r_ear).all()                   # a head always shows an ear
    assert (~l_eye & r_eye).any() and (l_eye & ~r_eye).any() and (~nose).any() and (l_ear & r_ear).any()
    # a face seen from the front has its left shoulder on the image's right (COCO convention)
    front = nose & l_eye & r_eye & l_ear & r_ear
    shoulders_x = people.points[front][:, [5, 6], 0]
    assert (shoulders_x[:, 0] > shoulders_x[:, 1]).mean() > 0.9


def test_left_limbs_are_lighter_than_right_limbs(renders):
    """The documented left/right cue survives noise, blur and gain: compare luminance at elbows and knees."""
    diffs = []
    for image, ann in renders:
        luma = image.astype(np.float64) @ LUMA
        for kp, box in zip(ann.keypoints, ann.bboxes):
            if box[3] < 48:
                continue
            for left, right in ((7, 8), (13, 14)):
                if kp[left, 2] == 2 and kp[right, 2] == 2:
                    diffs.append(pixel(luma, kp[left]) - pixel(luma, kp[right]))
    diffs = np.array(diffs)
    assert len(diffs) >= 50
    assert (diffs > 0).mean() >= 0.95 and np.median(diffs) > 50
    shirt = np.array([10.0, 200.0, 90.0])
    assert (synth.lighter(shirt) @ LUMA) > (shirt @ LUMA) > (synth.darker(shirt) @ LUMA)


def test_scales_span_small_and_large_people(renders):
    heights = np.concatenate([synth.sample_people(np.random.default_rng(s), 1 + s % 8, SIZE).height
                              for s in range(80)])
    assert heights.min() >= synth.MIN_HEIGHT and heights.min() < 40 and heights.max() > 0.9 * SIZE
    boxes = np.concatenate([a.bboxes for _, a in renders])
    assert boxes[:, 3].min() < 40 and boxes[:, 3].max() > 0.7 * SIZE


def test_crowd_index_of_a_hand_built_image():
    def person(points, v=2):
        kp = np.zeros((4, 3))
        kp[:, :2], kp[:, 2] = points, v
        return kp

    a = person([[0, 0], [10, 0], [0, 10], [10, 10]])        # box 0..10
    b = person([[5, 5], [6, 6], [9, 9], [30, 30]])          # 3 joints in a's box
    boxes = np.array([[0, 0, 10, 10], [5, 5, 25, 25]], float)
    # a's box holds 3 of b's joints: 3/4; b's box (5..30) holds a's (10, 10) only: 1/4
    assert synth.crowd_index(np.stack([a, b]), boxes) == pytest.approx((3 / 4 + 1 / 4) / 2)
    assert synth.crowd_index(a[None], boxes[:1]) == 0.0
    unlabelled = person([[5, 5]] * 4, v=0)
    assert synth.crowd_index(np.stack([a, unlabelled]), np.array([[0, 0, 10, 10], [0, 0, 10, 10]], float)) == 0.0
    b[3, 2] = 0  # an unlabelled joint counts for nobody: b has 3 joints, all inside a's box
    assert synth.crowd_index(np.stack([a, b]), boxes) == pytest.approx((3 / 4 + 1 / 3) / 2)


# ----------------------------------------------------------------------------- CLI

def test_cli_writes_a_dataset(tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["data", "synth", "--out", str(out), "--images", "3", "--seed", "5", "--size", "96",
                 "--max-people", "3"]) == 0
    coco = load_coco(out / "annotations.json")
    assert len(coco.images) == 3 and len(list((out / "images").glob("*.jpg"))) == 3
    assert np.bincount(coco.ann_image_ids, minlength=4)[1:].max() <= 3
    assert "wrote 3 images" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--images", "0"], "--images: must be at least 1"),
    (["--images", "x"], "--images: 'x' is not an integer"),
    (["--images", "2", "--size", "8"], "--size: must be at least 64"),
    (["--images", "2", "--max-people", "-1"], "--max-people: must be at least 0"),
])
def test_cli_bad_arguments_exit_2_with_one_error_line(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as stop:
        main(["data", "synth", "--out", str(tmp_path / "x")] + args)
    assert stop.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0]
    assert not (tmp_path / "x").exists()


def test_cli_reports_an_unusable_output_directory(tmp_path, capsys):
    (tmp_path / "taken").write_text("")
    assert main(["data", "synth", "--out", str(tmp_path / "taken"), "--images", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is a file" in err
