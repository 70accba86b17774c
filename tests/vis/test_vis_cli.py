"""`posekit vis`: ground truth and results files drawn onto a synthetic dataset."""

import json

import numpy as np
import pytest

from posekit.cli import main
from posekit.data.coco import load_coco
from posekit.data.images import read_image
from posekit.data.synth import generate


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("vis") / "data"
    generate(out, 4, seed=1, size=96, max_people=3)
    return out


def people_per_image(coco) -> np.ndarray:
    return np.bincount(coco.ann_image_ids, minlength=len(coco.images) + 1)[1:]


def test_draws_ground_truth(data, tmp_path, capsys):
    out = tmp_path / "gt"
    assert main(["vis", "--data", str(data), "--out", str(out), "--max-images", "3"]) == 0
    coco = load_coco(data / "annotations.json")
    drawn = sorted(out.glob("*.jpg"))
    assert [p.name for p in drawn] == [im["file_name"] for im in coco.images[:3]]
    counts = people_per_image(coco)[:3]
    assert counts.any()
    for path, count in zip(drawn, counts):
        diff = np.abs(read_image(path).astype(int) - read_image(data / "images" / path.name).astype(int)).max(-1)
        assert (diff > 60).sum() > (20 if count else -1)   # people mean drawn skeletons (beyond JPEG noise)
    assert "ground truth on 3 images" in capsys.readouterr().out


def test_draws_results_grouped_by_image_and_resizes(data, tmp_path):
    coco = load_coco(data / "annotations.json")
    results = [{"image_id": int(i), "category_id": 1, "score": 0.9,
                "keypoints": np.concatenate([k[:, :2], np.full((17, 1), 0.8)], 1).ravel().tolist()}
               for i, k in zip(coco.ann_image_ids, coco.keypoints)]
    (tmp_path / "res.json").write_text(json.dumps(results))
    out = tmp_path / "pred"
    assert main(["vis", "--data", str(data), "--results", str(tmp_path / "res.json"), "--out", str(out),
                 "--width", "48", "--format", "png"]) == 0
    drawn = sorted(out.glob("*.png"))
    assert len(drawn) == 4 and all(read_image(p).shape == (48, 48, 3) for p in drawn)


@pytest.mark.parametrize("case", ["no data", "unknown image", "not a list"])
def test_bad_input_exits_2_with_one_line(data, tmp_path, capsys, case):
    args = ["vis", "--data", str(data), "--out", str(tmp_path / "o")]
    if case == "no data":
        args[2] = str(tmp_path / "missing")
    elif case == "unknown image":
        (tmp_path / "r.json").write_text(json.dumps([{"image_id": 999, "keypoints": [0] * 51, "score": 1}]))
        args += ["--results", str(tmp_path / "r.json")]
    else:
        (tmp_path / "r.json").write_text(json.dumps({"image_id": 1}))
        args += ["--results", str(tmp_path / "r.json")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("posekit vis: error:")
    assert not (tmp_path / "o").exists()


def test_bad_arguments_exit_2(data, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["vis", "--data", str(data), "--max-images", "0"])
    assert stop.value.code == 2
    assert "--max-images: must be at least 1" in capsys.readouterr().err
