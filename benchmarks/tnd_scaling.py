"""TND-NAS: what the search costs against the number of trade-off settings (3, 5, 8, 12).

Run: ``python -m benchmarks.tnd_scaling [--settings 3,5,8,12 --repeats 2 ...] [--out FILE]``

Each run is ``TNDSearch.search()`` (supernet training, α updates, shrinking, derivation;
not the full training of the derived architectures, which every sampler pays per trial)
on the same data, space, recipe and seed, with ``--settings`` trade-off settings from
``trade_off_ladder`` (params targets log-spaced over the space). ``shared``: one pool
of ``--samples`` scored sub-networks per α update serves every setting (the driver
as it is). ``per-setting``: ``--per-setting`` samples per setting and update
(``samples_per_update = per_setting * S``), the cost model of a driver that scores
samples for each setting separately, as the driver did before the shared pool.

The cost is the process's CPU time (``time.process_time``, one torch thread), which
other processes on a loaded machine change far less than the wall-clock; both are
reported. The runs of one repeat go in the order of ``--settings`` and the next repeat
in reverse, so a drift in the machine's load does not favour one end; the table shows
the median over repeats, and each cost as a ratio to the first setting count's.
"""

from __future__ import annotations

import argparse
import datetime
import os
import time

import numpy as np
import optuna
import torch

from benchmarks._report import emit, machine
from optuna_nas import NB201Space, TrainConfig, create_study
from optuna_nas.data import load_data
from optuna_nas.tnd import TNDSearch, trade_off_ladder


def run_one(args: argparse.Namespace, data, n_settings: int, mode: str) -> dict:  # noqa: ANN001
    """One search; its CPU and wall seconds, scored samples and distinct derived architectures."""
    space = NB201Space(channels=args.channels, cells=args.cells)
    study = create_study(["error", "params"])
    settings = trade_off_ladder(space, "params", n_settings, input_shape=data.input_shape,
                                num_classes=data.num_classes, seed=args.seed)  # fmt: skip
    samples = args.samples if mode == "shared" else args.per_setting * n_settings
    search = TNDSearch(
        study, space, data, settings,
        search_config=TrainConfig(epochs=args.search_epochs, batch_size=args.batch_size,
                                  lr=args.lr, seed=args.seed, device="cpu"),
        samples_per_update=samples, updates_per_epoch=args.updates_per_epoch,
        reward_batch_size=args.reward_batch_size, warmup_epochs=args.warmup_epochs,
        seed=args.seed,
    )  # fmt: skip
    cpu, wall = time.process_time(), time.perf_counter()
    derived = search.search()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    scored = sum(
        t.user_attrs.get("fidelity") == "supernet" for t in study.get_trials(deepcopy=False)
    )
    distinct = len({a.fingerprint for a in derived.values()})
    print(f"  {mode:11} S={n_settings:2}: cpu {cpu:7.1f}s wall {wall:7.1f}s, {scored} scored, "
          f"{distinct} distinct derived", flush=True)  # fmt: skip
    return {"cpu": cpu, "wall": wall, "scored": scored, "distinct": distinct}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default="3,5,8,12")
    parser.add_argument("--modes", default="shared,per-setting")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--train-size", type=int, default=2048)
    parser.add_argument("--val-size", type=int, default=256)
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--cells", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--search-epochs", type=int, default=1, help="per stage")
    parser.add_argument("--warmup-epochs", type=int, default=0)
    parser.add_argument("--updates-per-epoch", type=int, default=2)
    parser.add_argument("--samples", type=int, default=16, help="shared pool per update")
    parser.add_argument("--per-setting", type=int, default=4, help="per-setting mode's samples")
    parser.add_argument("--reward-batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)
    counts = [int(s) for s in args.settings.split(",")]
    modes = args.modes.split(",")
    if not set(modes) <= {"shared", "per-setting"}:
        parser.error(f"--modes takes shared and/or per-setting, got {args.modes!r}.")
    data = load_data(args.dataset, train_size=args.train_size, val_size=args.val_size,
                     test_size=64, seed=args.seed)  # fmt: skip
    load_before = os.getloadavg()[0]
    results: dict[tuple[str, int], list[dict]] = {}
    for r in range(args.repeats):
        order = counts if r % 2 == 0 else counts[::-1]
        print(f"repeat {r + 1}/{args.repeats}: settings in the order {order}", flush=True)
        for n in order:
            for mode in modes:
                results.setdefault((mode, n), []).append(run_one(args, data, n, mode))
    command = "python -m benchmarks.tnd_scaling " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out"
    )
    lines = [
        "# TND-NAS: search cost against the number of trade-off settings",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}; 1 torch thread; date: {datetime.date.today().isoformat()}; "
        f"1-min load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after",
        f"- search: {data!r}, NB201Space(channels={args.channels}, cells={args.cells}), "
        f"{args.warmup_epochs} warm-up + 3 stages x {args.search_epochs} epoch(s) (batch "
        f"{args.batch_size}), {args.updates_per_epoch} α updates per epoch, reward batch "
        f"{args.reward_batch_size}; `shared`: one pool of {args.samples} per update for all "
        f"settings; `per-setting`: {args.per_setting} per setting and update",
        "- cost: process CPU seconds of `TNDSearch.search()` (median over "
        f"{args.repeats} repeat(s)); ratio: to the first setting count of the same mode",
        "",
        "| mode | settings | CPU s | ratio | wall s | scored sub-networks | distinct derived |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode in modes:
        first = float(np.median([x["cpu"] for x in results[mode, counts[0]]]))
        for n in counts:
            runs = results[mode, n]
            cpu = float(np.median([x["cpu"] for x in runs]))
            wall = float(np.median([x["wall"] for x in runs]))
            lines.append(
                f"| {mode} | {n} | {cpu:.1f} | {cpu / first:.2f} | {wall:.0f} | "
                f"{runs[0]['scored']} | {runs[0]['distinct']} |"
            )
    emit(lines, args.out)


if __name__ == "__main__":
    main()
