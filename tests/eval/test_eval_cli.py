"""`posekit eval`: the happy path writes JSON; every bad input gives exit 2, one line, no file."""

import json

import numpy as np
import pytest

import posekit.cli
from posekit.eval import evaluate

from eval_cases import random_case


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run `posekit eval ...` through the real entry point, with only the eval sub-command loaded."""
    assert "eval" in posekit.cli.COMMANDS
    monkeypatch.setattr(posekit.cli, "COMMANDS", ["eval"])

    def run(*argv):
        code = posekit.cli.main(["eval", *map(str, argv)])
        out, err = capsys.readouterr()
        return code, out, err
    return run


@pytest.fixture
def files(tmp_path):
    gt, results = random_case(np.random.default_rng(11), num_images=5)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "results.json").write_text(json.dumps(results))
    return tmp_path / "gt.json", tmp_path / "results.json"


def test_happy_path_prints_protocol_and_writes_json(cli, files, tmp_path):
    gt, results = files
    out_path = tmp_path / "out" / "stats.json"
    code, out, err = cli("--gt", gt, "--results", results, "--json", out_path)
    assert code == 0 and err == ""
    written = json.loads(out_path.read_text())
    assert written["stats"] == evaluate(gt, results).stats
    assert written["protocol"]["max_dets"] == 20 and len(written["protocol"]["sigmas"]) == 17
    header = out.splitlines()[:4]
    assert "pycocotools" in header[0] and header[1].startswith("sigmas (17): 0.026")
    assert "GT 'area' field" in header[2] and "maxDets 20" in header[3]
    assert any(line.split() == ["AP", f"{written['stats']['AP']:.4f}"] for line in out.splitlines())
    assert [p.name for p in out_path.parent.iterdir()] == ["stats.json"]  # no temporary left behind


def test_empty_results_are_evaluated_not_refused(cli, files, tmp_path):
    gt, _ = files
    code, out, _ = cli("--gt", gt, "--results", _write(tmp_path, "empty.json", "[]"), "--json", tmp_path / "o.json")
    stats = json.loads((tmp_path / "o.json").read_text())["stats"]
    assert code == 0 and stats["AP"] == 0.0 and set(stats.values()) <= {0.0, -1.0}


@pytest.mark.parametrize("layout", ["json", "lines"])
def test_sigmas_file(cli, files, tmp_path, layout):
    gt, results = files
    sigmas = [0.05 + 0.001 * i for i in range(17)]
    path = tmp_path / "sigmas.txt"
    path.write_text(json.dumps(sigmas) if layout == "json" else "\n".join(map(str, sigmas)))
    code, out, _ = cli("--gt", gt, "--results", results, "--sigmas", path, "--json", tmp_path / "o.json")
    assert code == 0
    assert json.loads((tmp_path / "o.json").read_text())["stats"] == evaluate(gt, results, sigmas=sigmas).stats


def _write(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    return tmp_path / name


BAD = {
    "malformed_json": lambda t, r: ["--results", _write(t, "bad.json", '[{"image_id": ')],
    "not_a_list": lambda t, r: ["--results", _write(t, "bad.json", '{"image_id": 1}')],
    "unknown_image": lambda t, r: ["--results", _write(t, "bad.json", json.dumps([dict(r[0], image_id=10 ** 6)]))],
    "keypoint_count": lambda t, r: ["--results", _write(t, "bad.json", json.dumps([dict(r[0], keypoints=[1] * 9)]))],
    "nan": lambda t, r: ["--results", _write(t, "bad.json", json.dumps([dict(r[0], score=float("nan"))]))],
    "missing_field": lambda t, r: ["--results", _write(t, "bad.json", json.dumps([{"image_id": r[0]["image_id"]}]))],
    "missing_gt_file": lambda t, r: ["--gt", t / "nowhere.json"],
    "sigmas_file": lambda t, r: ["--sigmas", _write(t, "s.txt", "0.1 0.2 x")],
    "sigmas_count": lambda t, r: ["--sigmas", _write(t, "s.txt", "0.1 0.2")],
    "crowdpose_without_crowd_index": lambda t, r: ["--dataset", "crowdpose"],
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_exits_2_with_one_line_and_no_file(cli, files, tmp_path, case):
    gt, results = files
    args = {"--gt": gt, "--results": results}
    extra = BAD[case](tmp_path, json.loads(results.read_text()))
    flags = dict(zip(extra[::2], extra[1::2]))
    args.update(flags)
    out_path = tmp_path / "out" / "stats.json"
    code, out, err = cli(*[x for kv in args.items() for x in kv], "--json", out_path)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("posekit eval: error: ")
    assert not out_path.parent.exists() or not any(out_path.parent.iterdir())


def test_gt_and_results_go_together(cli, files):
    gt, _ = files
    code, _, err = cli("--gt", gt)
    assert code == 2 and "--results is missing" in err
    code, _, err = cli()
    assert code == 2 and "give --gt GT.json and --results RESULTS.json" in err
