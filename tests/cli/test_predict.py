"""`posekit predict` on images, folders and videos; bad input leaves nothing behind."""

import json

import cv2
import numpy as np
import pytest

from posekit.cli import main
from posekit.engine.checkpoint import save_checkpoint
from posekit.models import create_model

TINY = {"widen": 0.125, "input_size": (64, 48), "hidden_dims": 16, "s": 8}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "tiny.pt"
    save_checkpoint(path, model="rtmpose-t", model_args=TINY, state_dict=create_model("rtmpose-t", **TINY).state_dict())
    return path


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.jpg", "b.png"):
        cv2.imwrite(str(d / name), rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    return d


def _run(args, capsys):
    code = main(args)
    return code, capsys.readouterr()


def test_folder_writes_results_images_and_drawings(folder, weights, tmp_path, capsys):
    out = tmp_path / "out"
    code, _ = _run(["predict", str(folder), "--model", "rtmpose-t", "--weights", str(weights), "--out", str(out)], capsys)
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    images = json.loads((out / "images.json").read_text())
    assert [im["file_name"] for im in images] == ["a.jpg", "b.png"]
    assert sorted({r["image_id"] for r in results}) == [1, 2] and len(results[0]["keypoints"]) == 51
    assert sorted(p.name for p in (out / "vis").iterdir()) == ["a.jpg", "b.jpg"]


def test_video_source(weights, tmp_path, capsys):
    video = tmp_path / "v.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for i in range(3):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    out = tmp_path / "out"
    code, _ = _run(["predict", str(video), "--model", "rtmpose-t", "--weights", str(weights), "--out", str(out)], capsys)
    assert code == 0
    assert len(json.loads((out / "images.json").read_text())) == 3
    assert (out / "vis.mp4").stat().st_size > 0


def test_corrupt_image_fails_cleanly_without_outputs(folder, weights, tmp_path, capsys):
    (folder / "c.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    out = tmp_path / "out"
    code, io = _run(["predict", str(folder), "--model", "rtmpose-t", "--weights", str(weights), "--out", str(out)], capsys)
    assert code == 2
    assert io.err.count("\n") == 1 and "c.jpg" in io.err and "corrupt" in io.err
    assert sorted(p.name for p in out.iterdir()) == []


@pytest.mark.parametrize("args, message", [
    (["--model", "rtmpose-s"], "holds 'rtmpose-t'"),
    (["--model", "nope"], "unknown model"),
])
def test_wrong_model_or_weights_is_one_line(folder, weights, tmp_path, capsys, args, message):
    code, io = _run(["predict", str(folder), "--weights", str(weights), "--out", str(tmp_path / "o")] + args, capsys)
    assert code == 2 and message in io.err and io.err.count("\n") == 1


def test_missing_source(weights, tmp_path, capsys):
    code, io = _run(["predict", str(tmp_path / "nothing.jpg"), "--model", "rtmpose-t", "--weights", str(weights)], capsys)
    assert code == 2 and "does not exist" in io.err


@pytest.mark.parametrize("name, args", [("yolov8-pose-n", {"width": 0.125, "input_size": (64, 64)}),
                                        ("rtmo-s", {"widen": 0.125, "neck_hidden": 32, "neck_ffn": 64,
                                                    "input_size": (64, 64)})])
def test_one_stage_models_share_the_predict_path(folder, tmp_path, capsys, name, args):
    weights = tmp_path / "w.pt"
    save_checkpoint(weights, model=name, model_args=args, state_dict=create_model(name, **args).state_dict())
    out = tmp_path / "out"
    code, _ = _run(["predict", str(folder), "--model", name, "--weights", str(weights), "--out", str(out)], capsys)
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert all(len(r["keypoints"]) == 51 and r["image_id"] in (1, 2) for r in results)
    assert sorted(p.name for p in (out / "vis").iterdir()) == ["a.jpg", "b.jpg"]
    code, io = _run(["predict", str(folder), "--model", name, "--weights", str(weights), "--detector",
                     "rtmdet-person-nano", "--out", str(tmp_path / "o2")], capsys)
    assert code == 2 and "finds people itself" in io.err
