"""`make demo`: the bundled checkpoints load, predict people and evaluate on a fresh synthetic set."""

from posekit import demo


def test_demo_finds_people_with_the_bundled_models(tmp_path, capsys):
    summary = demo.run(tmp_path, images=4, seed=90210)
    # Far above chance with GT boxes; the detector's boxes find people too.
    assert summary["gt-boxes"]["AP"] > 0.4 and summary["detector"]["AP"] > 0.15
    for name in ("results_gt-boxes.json", "results_detector.json", "summary.json",
                 "vis/000000_pred.jpg", "vis/000003_gt.jpg"):
        assert (tmp_path / name).is_file(), name
    assert "[4/4] drawings" in capsys.readouterr().out
