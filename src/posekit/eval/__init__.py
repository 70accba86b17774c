"""Layer 3: keypoint evaluation that matches pycocotools / xtcocotools to the last digit.

`evaluate(gt, results, dataset="coco" | "crowdpose" | "ochuman", sigmas=None) -> EvalResult`.
"""

from posekit.eval.cocoeval import PROTOCOLS, EvalResult, Protocol, evaluate, get_protocol
from posekit.eval.inputs import GroundTruth, Results, load_ground_truth, load_results

__all__ = ["PROTOCOLS", "EvalResult", "GroundTruth", "Protocol", "Results", "evaluate", "get_protocol",
           "load_ground_truth", "load_results"]
