"""`posekit train`, `posekit models` and `posekit doctor` from the command line."""

from posekit.cli import main


def test_unknown_recipe_key_is_one_line_and_exit_2(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: rtmpose-t\nepochz: 3\n")
    assert main(["train", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "epochz" in err and "allowed" in err
    assert not (tmp_path / "runs").exists()


def test_bad_override_and_missing_recipe(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: rtmpose-t\n")
    assert main(["train", str(recipe), "--set", "epochs"]) == 2
    assert "key=value" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_models_lists_every_family(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ("rtmpose-m", "hrnet-w32", "rtmdet-person-nano", "rtmo-s", "yoloxpose-s", "yolo11-pose-n"):
        assert name in out


def test_doctor_prints_the_versions_a_bug_report_needs(capsys):
    import torch

    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for key in ("python", "torch", "onnxruntime", "opencv", "cuda_usable", "onnxruntime_providers"):
        assert key in out
    assert torch.__version__ in out and "CPUExecutionProvider" in out
