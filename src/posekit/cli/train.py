"""`posekit train RECIPE.yaml [--set key=value ...] [--resume]`; data-parallel over N processes with
`torchrun --nproc-per-node N -m posekit.cli train RECIPE.yaml` (batch_size stays the global batch)."""

from __future__ import annotations


def run(args) -> int:
    from posekit.engine import distributed
    from posekit.engine.recipe import load_recipe
    from posekit.engine.trainer import Trainer

    recipe = load_recipe(args.recipe, args.set)
    trainer = Trainer(recipe, resume=args.resume, quiet=args.quiet)
    metrics = trainer.fit()
    if not distributed.is_main():
        return 0
    print(f"done: {trainer.out}/last.pt" + (f" (best {trainer.task.primary_metric} {trainer.best:.4f} "
                                             f"in {trainer.out}/best.pt)" if metrics else ""))
    return 0


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model from a YAML recipe")
    p.add_argument("recipe", help="recipe YAML (see configs/)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="override recipe fields, e.g. --set epochs=5 optimizer.lr=1e-3")
    p.add_argument("--resume", action="store_true", help="continue from <out>/last.pt exactly")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
