"""Data-parallel training: two gloo processes on the CPU, as torchrun would start them."""

import json
import os
import socket
import time

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from posekit.core.errors import ConfigError
from posekit.engine import distributed

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(rank: int, world: int, port: int, recipe_file: str, out: str, overrides: list[str],
           head_start_s: float) -> None:
    os.environ.update(WORLD_SIZE=str(world), RANK=str(rank), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from posekit.engine.recipe import load_recipe
    from posekit.engine.trainer import Trainer

    trainer = Trainer(load_recipe(recipe_file, [f"out={out}"] + overrides), quiet=True)
    if rank == 0:
        trainer.started -= head_start_s  # as if the main process had started that much earlier
    initial = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    torch.save({"initial": initial, "final": trainer.model.state_dict(), "step": trainer.step,
                "batches": len(trainer.task.train_loader(0)),
                "samples": len(trainer.task.dataset),
                "cacheable": np.flatnonzero(trainer.task.train_data.read.cacheable).tolist(),
                "cached": sorted(trainer.task.train_data.read.cache or {}),
                "parameters": [name for name, _ in trainer.model.named_parameters()], "records": len(trainer.records)},
               f"{out}/rank{rank}.pt")
    torch.distributed.destroy_process_group()


def _run_two(tmp_path, write_recipe, overrides=(), head_start_s=0.0):
    root = tmp_path / "data"
    root.mkdir()
    recipe = write_recipe(root)
    out = tmp_path / "run"
    out.mkdir()
    context = mp.start_processes(_train, args=(2, _free_port(), str(recipe), str(out), list(overrides), head_start_s),
                                 nprocs=2, start_method="spawn", join=False)
    deadline = time.monotonic() + 300
    while not context.join(timeout=5):
        if time.monotonic() > deadline:
            for p in context.processes:
                p.kill()
            pytest.fail("the processes did not finish within 5 minutes (one waiting for the other?)")
    return out, [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(2)]


def test_two_processes_train_one_model_and_only_the_main_one_writes(tmp_path, write_tiny_recipe):
    out, (main, other) = _run_two(tmp_path, write_tiny_recipe)
    # The synthetic set was made once (main first), and each process took half of every global batch.
    assert (tmp_path / "data/train/annotations.json").is_file()
    assert main["samples"] >= 8 and main["batches"] == other["batches"] == (main["samples"] // 2) // 2
    assert main["step"] == other["step"] == 2 * main["batches"]
    # Averaged gradients keep the weights identical, and they did learn. (BatchNorm's running
    # statistics are the main process's, as DDP broadcasts them before each forward.)
    moved = 0
    for k in main["parameters"]:
        assert torch.equal(main["final"][k], other["final"][k]), k
        moved += not torch.equal(main["final"][k], main["initial"][k])
    assert moved > 10
    # One writer: the log has one train and one val record per epoch, the checkpoint holds the model.
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["kind"] for r in records] == ["train", "val", "train", "val"]
    assert main["records"] == 4 and other["records"] == 0
    saved = torch.load(out / "last.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(saved[k], v) for k, v in main["final"].items())


def test_a_time_budget_stops_every_process_at_the_same_step(tmp_path, write_tiny_recipe):
    # The main process's clock runs 29.5 s ahead of the other's within a 30 s budget. Were the
    # clocks not shared, it would stop within a second while the other trained on, waiting for it in
    # the next gradient all-reduce; shared, both stop at the same step, long before epoch 50.
    _, (main, other) = _run_two(tmp_path, write_tiny_recipe, ["time_budget_min=0.5", "epochs=50"],
                                head_start_s=29.5)
    assert main["step"] == other["step"] < 50 * main["batches"] / 2


def test_a_global_batch_that_does_not_split_over_the_processes_is_refused(monkeypatch):
    monkeypatch.setattr(distributed, "world_size", lambda: 3)
    assert distributed.per_process_batch(6) == 2
    with pytest.raises(ConfigError, match="multiple of 3"):
        distributed.per_process_batch(16)


def test_one_process_needs_no_process_group():
    assert distributed.world_size() == 1 and distributed.is_main()
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap(model, torch.device("cpu")) is model
    assert distributed.reduce_float(2.5) == 2.5


def test_sharded_images_go_to_one_process_each_and_every_process_takes_as_many_steps():
    from posekit.engine.tasks import shard_order

    sample_images = np.repeat(np.arange(7), [3, 1, 2, 4, 2, 3, 2])  # image 3 has four people, ...
    orders = [shard_order(sample_images, rank, 2, seed=0, epoch=0) for rank in (0, 1)]
    assert len(orders[0]) == len(orders[1]) == 8  # even images have 9 people, odd ones 8
    for rank, order in enumerate(orders):
        assert (sample_images[order] % 2 == rank).all() and len(set(order.tolist())) == len(order)
    three = [shard_order(sample_images, rank, 3, seed=0, epoch=0) for rank in range(3)]
    assert [len(o) for o in three] == [3, 3, 3]  # images 0,3,6: 9 people; 1,4: 3; 2,5: 5
    assert not np.array_equal(shard_order(sample_images, 0, 2, 0, 1), orders[0]) or \
        not np.array_equal(shard_order(sample_images, 0, 2, 0, 2), orders[0])  # reshuffled per epoch


def test_sharded_training_splits_the_images_and_keeps_one_model(tmp_path, write_tiny_recipe):
    out, (main, other) = _run_two(tmp_path, write_tiny_recipe, ["data.shard_images=true"])
    assert sorted(main["cacheable"] + other["cacheable"]) == list(range(6))  # each image in one process
    assert main["cached"] and set(main["cached"]) <= set(main["cacheable"])
    assert main["batches"] == other["batches"] > 0 and main["step"] == other["step"]
    for k in main["parameters"]:
        assert torch.equal(main["final"][k], other["final"][k]), k
