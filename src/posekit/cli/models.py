"""`posekit models [--family F]`: every registered model with its card."""

from __future__ import annotations


def run(args) -> int:
    from posekit.models import list_models, model_card

    names = list_models(family=args.family)
    print(f"{'name':22s} {'paradigm':11s} {'input':9s} {'params(M)':>9s} {'GMACs':>7s} {'COCO AP':>7s}")
    for name in names:
        c = model_card(name)
        fmt = lambda v, f: f"{v:{f}}" if v is not None else "-"  # noqa: E731
        print(f"{name:22s} {c.paradigm:11s} {c.input_size[0]}x{c.input_size[1]:<5d} {fmt(c.params_m, '9.2f'):>9s} "
              f"{fmt(c.gmacs, '7.2f'):>7s} {fmt(c.coco_ap, '7.1f'):>7s}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("models", help="list the registered models and their official numbers")
    p.add_argument("--family", default=None, help="only this family (e.g. rtmpose)")
    p.set_defaults(func=run)
