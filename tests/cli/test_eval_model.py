"""`posekit eval --model ... --data ...`: top-down with GT boxes and detector boxes."""

import json

import pytest

from posekit.cli import main
from posekit.data.synth import generate
from posekit.engine.checkpoint import save_checkpoint
from posekit.models import create_model

POSE = {"widen": 0.125, "input_size": (64, 48), "hidden_dims": 16, "s": 8}
DET = {"widen_factor": 0.125, "input_size": 128}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("evalm")
    generate(root / "data", 3, seed=7, size=128, max_people=3)
    save_checkpoint(root / "pose.pt", model="rtmpose-t", model_args=POSE,
                    state_dict=create_model("rtmpose-t", **POSE).state_dict())
    save_checkpoint(root / "det.pt", model="rtmdet-person-nano", model_args=DET,
                    state_dict=create_model("rtmdet-person-nano", **DET).state_dict())
    return root


def test_topdown_reports_gt_and_detector_boxes(setup, capsys):
    out = setup / "out.json"
    code = main(["eval", "--model", "rtmpose-t", "--weights", str(setup / "pose.pt"), "--data", str(setup / "data"),
                 "--detector", "rtmdet-person-nano", "--detector-weights", str(setup / "det.pt"), "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert set(report) == {"gt-boxes", "detector"}
    assert set(report["gt-boxes"]["stats"]) >= {"AP", "AP50", "AR"}
    assert "gt-boxes" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--data", "nowhere"], "no annotations"),
    (["--gt", "x.json"], "not both"),
])
def test_model_mode_errors(setup, capsys, args, message):
    code = main(["eval", "--model", "rtmpose-t", "--weights", str(setup / "pose.pt")] + args)
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
