"""`posekit eval`: keypoint AP/AR of a results file against COCO-format ground truth.

    posekit eval --gt GT.json --results RES.json [--dataset coco|crowdpose|ochuman] [--sigmas FILE]
                 [--json OUT.json]

Prints the protocol header (evaluator, sigmas, area mode, maxDets) and the statistics; `--json`
writes {"stats", "protocol", "counts"} atomically. Evaluating a model (`--model`, `--weights`,
`--data`) will dispatch from `run` beside `run_files`.
"""

from __future__ import annotations

from posekit.core.errors import InputError


def run(args) -> int:
    if args.gt is not None or args.results is not None:
        return run_files(args)
    raise InputError("nothing to evaluate: give --gt GT.json and --results RESULTS.json")


def run_files(args) -> int:
    from posekit.core.io import write_json
    from posekit.eval import evaluate
    from posekit.eval.inputs import read_sigmas

    if args.gt is None or args.results is None:
        missing = "--gt" if args.gt is None else "--results"
        raise InputError(f"{missing} is missing: a results file is evaluated with both --gt GT.json and "
                         f"--results RESULTS.json")
    sigmas = read_sigmas(args.sigmas) if args.sigmas else None
    result = evaluate(args.gt, args.results, dataset=args.dataset, sigmas=sigmas)
    print(result.header())
    print(result.table())
    if args.json:
        write_json(args.json, result.to_dict(), indent=1)
    return 0


def register(sub) -> None:
    from posekit.eval.cocoeval import PROTOCOLS

    p = sub.add_parser("eval", help="COCO / CrowdPose / OCHuman keypoint AP of a results file")
    files = p.add_argument_group("a results file")
    files.add_argument("--gt", help="COCO-format keypoint annotations (JSON)")
    files.add_argument("--results", help="COCO results: a JSON list of {image_id, category_id, keypoints, score}")
    p.add_argument("--dataset", choices=sorted(PROTOCOLS), default="coco",
                   help="protocol: coco/ochuman = pycocotools, crowdpose = xtcocotools keypoints_crowd")
    p.add_argument("--sigmas", metavar="FILE", help="OKS sigmas, one per keypoint (JSON list or one per line)")
    p.add_argument("--json", metavar="OUT.json", help="write the statistics and the protocol here")
    p.set_defaults(func=run)
