"""`posekit eval`: keypoint AP/AR of a results file against COCO-format ground truth.

    posekit eval --gt GT.json --results RES.json [--dataset coco|crowdpose|ochuman] [--sigmas FILE]
                 [--json OUT.json]

    posekit eval --model NAME --weights CKPT --data DIR [--detector NAME --detector-weights W]
                 [--flip-test] [--json OUT.json]

Prints the protocol header (evaluator, sigmas, area mode, maxDets) and the statistics; `--json`
writes {"stats", "protocol", "counts"} atomically. A top-down model is evaluated with the
ground-truth boxes and, when a detector is given, with its boxes too (both reported, as the papers
do); a one-stage model on whole images.
"""

from __future__ import annotations

from posekit.core.errors import InputError


def run(args) -> int:
    if args.model is not None:
        if args.gt is not None or args.results is not None:
            raise InputError("give either --model/--weights/--data or --gt/--results, not both")
        return run_model(args)
    if args.gt is not None or args.results is not None:
        return run_files(args)
    raise InputError("nothing to evaluate: give --gt GT.json and --results RESULTS.json, or --model NAME "
                     "--weights CKPT --data DIR")


def run_model(args) -> int:
    from posekit.core.io import write_json
    from posekit.data.datasets import CocoDirectory
    from posekit.engine.evaluation import evaluate_onestage, evaluate_topdown
    from posekit.engine.pipeline import build_model

    if args.data is None:
        raise InputError("--data is missing: point it at a directory with annotations.json and images/")
    data = CocoDirectory(args.data)
    model = build_model(args.model, args.weights)
    runs = {}
    if model.paradigm == "top-down":
        runs["gt-boxes"] = evaluate_topdown(model, data, device=args.device, flip_test=args.flip_test,
                                            dataset=args.dataset)
        if args.detector:
            detector = build_model(args.detector, args.detector_weights)
            runs["detector"] = evaluate_topdown(model, data, device=args.device, detector=detector,
                                                flip_test=args.flip_test, dataset=args.dataset)
    elif args.detector:
        raise InputError(f"'{args.model}' is a {model.paradigm} model and finds people itself: drop --detector")
    else:
        runs["whole-image"] = evaluate_onestage(model, data, device=args.device, dataset=args.dataset)
    first = next(iter(runs.values()))
    print(first.header())
    for mode, result in runs.items():
        print(f"-- {args.model} on {args.data}, {mode}" + (" (flip test)" if args.flip_test else ""))
        print(result.table())
    if args.json:
        write_json(args.json, {mode: r.to_dict() for mode, r in runs.items()}, indent=1)
    return 0


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

    p = sub.add_parser("eval", help="COCO / CrowdPose / OCHuman keypoint AP of a results file or a model")
    files = p.add_argument_group("a results file")
    files.add_argument("--gt", help="COCO-format keypoint annotations (JSON)")
    files.add_argument("--results", help="COCO results: a JSON list of {image_id, category_id, keypoints, score}")
    model = p.add_argument_group("a model on a COCO-format directory")
    model.add_argument("--model", help="registered model name (see `posekit models`)")
    model.add_argument("--weights", help="checkpoint path or URL")
    model.add_argument("--data", help="directory with annotations.json and images/")
    model.add_argument("--detector", help="person detector for top-down models (adds a detector-box run)")
    model.add_argument("--detector-weights", help="detector checkpoint path or URL")
    model.add_argument("--flip-test", action="store_true", help="top-down flip test")
    model.add_argument("--device", default="cpu")
    p.add_argument("--dataset", choices=sorted(PROTOCOLS), default="coco",
                   help="protocol: coco/ochuman = pycocotools, crowdpose = xtcocotools keypoints_crowd")
    p.add_argument("--sigmas", metavar="FILE", help="OKS sigmas, one per keypoint (JSON list or one per line)")
    p.add_argument("--json", metavar="OUT.json", help="write the statistics and the protocol here")
    p.set_defaults(func=run)
