"""Freeze xtcocotools' answers on a few CrowdPose cases into crowdpose_xtcocotools.json.

xtcocotools' wheels need numpy 1.x, so this runs outside the project's environment:

    python -m venv /tmp/xtc && /tmp/xtc/bin/pip install "numpy<2" xtcocotools==1.14.3
    /tmp/xtc/bin/python tests/eval/data/make_crowdpose_oracle.py

The cases cover what the shared fixtures do not: results with all keypoint scores zero (dropped),
a `bbox` in the results (loadRes takes the detection area from it), GT ids 0 and -1, two
categories, GT without `area` / `iscrowd`, and the default (divided by ten) CrowdPose sigmas.
"""

import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from importlib.metadata import version
from xtcocotools.coco import COCO
from xtcocotools.cocoeval import COCOeval

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from eval_cases import random_case  # noqa: E402

SIGMAS = np.array([.79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89, .79, .79]) / 10.0
CASES = [
    ("plain", 1, {}),
    ("results_with_bbox_gt_id_minus_1", 2, {"with_bbox": True, "odd_id": -1}),
    ("two_categories_gt_id_0", 3, {"categories": (1, 2), "odd_id": 0}),
    ("gt_without_area_and_iscrowd", 4, {}),
    ("uniform_sigmas", 5, {}),
]


def oracle(gt: dict, results: list, sigmas: np.ndarray) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "gt.json").write_text(json.dumps(gt))
        (Path(tmp) / "res.json").write_text(json.dumps(results))
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO(str(Path(tmp) / "gt.json"))
            evaluator = COCOeval(coco, coco.loadRes(str(Path(tmp) / "res.json")), "keypoints_crowd", sigmas,
                                 use_area=False)
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
    return [float(s) for s in evaluator.stats]


def main() -> None:
    cases = []
    for name, seed, options in CASES:
        rng = np.random.default_rng(seed)
        gt, results = random_case(rng, num_images=8, num_keypoints=14, crowd_index=True, **options)
        if name == "gt_without_area_and_iscrowd":
            for a in gt["annotations"]:
                a.pop("area"), a.pop("iscrowd")
        sigmas = np.full(14, 0.05) if name == "uniform_sigmas" else SIGMAS
        cases.append({"name": name, "gt": gt, "results": results,
                      "sigmas": sigmas.tolist() if name == "uniform_sigmas" else None,
                      "stats": oracle(gt, results, sigmas)})
    out = {"oracle": f"xtcocotools {version('xtcocotools')} COCOeval(iouType='keypoints_crowd', "
                     f"sigmas, use_area=False), numpy {np.__version__}",
           "stats": ["AP", "AP50", "AP75", "AR", "AR50", "AR75", "AP_easy", "AP_medium", "AP_hard"],
           "cases": cases}
    (HERE / "crowdpose_xtcocotools.json").write_text(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
