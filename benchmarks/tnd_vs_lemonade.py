"""TND-NAS against LEMONADE on Fashion-MNIST in the same wall-clock: fronts of error vs params.

Run: ``python -m benchmarks.tnd_vs_lemonade [--train-size 10000 ...] [--out FILE]``

TND-NAS runs first (supernet search, then its derived architectures trained from
scratch); its wall-clock is LEMONADE's budget. Both train their networks with the
same recipe (``--epochs`` etc.) on the same data split and threads; a LEMONADE trial
counts only if it finished within the budget. The front of each method is the
Pareto set (validation error, parameters) of its fully trained trials
(``fidelity="full"``; TND-NAS's supernet-scored trials are not comparable and are
left out). Hypervolume: ``optuna._hypervolume.compute_hypervolume`` on normalised
axes, error / 0.5 and (params - P_min) / (P_max - P_min) with P_min / P_max the
smallest / largest network of the space, reference point (1.1, 1.1); the best
possible value is 1.21. Timing matters here: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import datetime
import os
import tempfile
import time

import numpy as np
import optuna
import torch
from optuna._hypervolume import compute_hypervolume
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import FrozenTrial, TrialState

from benchmarks._report import emit, machine
from optuna_nas import NASObjective, NB201Space, TrainConfig, create_study, load_data
from optuna_nas.lemonade import LemonadeSampler
from optuna_nas.objectives import count_params
from optuna_nas.search import pareto_indices
from optuna_nas.tnd import Reinforce, TNDSearch, trade_off_ladder

ERROR_SCALE = 0.5
REFERENCE = np.array([1.1, 1.1])


def full_trials(study: optuna.Study, deadline: float | None = None) -> list[FrozenTrial]:
    """COMPLETE, fully trained trials (finished before ``deadline``, a POSIX time)."""
    return [
        t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.user_attrs.get("fidelity") == "full"
        and (deadline is None or t.datetime_complete.timestamp() <= deadline)
    ]  # fmt: skip


def hypervolume(points: np.ndarray, p_range: tuple[int, int]) -> float:
    """HV of ``(error, params)`` points on the normalised axes, or 0 without points."""
    low, high = p_range
    norm = np.column_stack([points[:, 0] / ERROR_SCALE, (points[:, 1] - low) / (high - low)])
    norm = norm[(norm <= REFERENCE).all(axis=1)]  # points beyond the reference add nothing
    return float(compute_hypervolume(norm, REFERENCE)) if len(norm) else 0.0


def front_rows(study: optuna.Study, trials: list[FrozenTrial]) -> list[FrozenTrial]:
    return sorted((trials[i] for i in pareto_indices(study, trials)), key=lambda t: t.values[1])


def run_tnd(args, space, data, store) -> tuple[optuna.Study, float]:  # noqa: ANN001
    study = create_study(["error", "params"], study_name="tnd")
    settings = trade_off_ladder(space, "params", args.settings, input_shape=data.input_shape,
                                num_classes=data.num_classes, seed=args.seed)  # fmt: skip
    search = TNDSearch(
        study, space, data, settings,
        search_config=TrainConfig(epochs=args.search_epochs, batch_size=args.batch_size,
                                  lr=args.lr, seed=args.seed),
        train_config=config(args), reinforce=Reinforce(lr=args.alpha_lr),
        warmup_epochs=args.warmup_epochs, weight_training=args.weight_training,
        artifact_store=store, seed=args.seed,
        callbacks=[_print_event],
    )  # fmt: skip
    start = time.perf_counter()
    search.run()
    return study, time.perf_counter() - start


def run_lemonade(args, space, data, store, budget: float) -> tuple[optuna.Study, float, float]:  # noqa: ANN001
    """LEMONADE for ``budget`` seconds; returns the study, the deadline (POSIX) and its time."""
    sampler = LemonadeSampler(
        space,
        seed=args.seed,
        n_initial=args.lemonade_initial,
        # The recorded run's children: 64 proposals of one operator each.
        n_proposals=64,
        max_operators=1,
        acceptance=args.acceptance,
    )
    study = create_study(["error", "params"], study_name="lemonade", sampler=sampler)
    objective = NASObjective(space, data, ["error", "params"], config(args), store)
    start_wall = time.time()
    start = time.perf_counter()
    study.optimize(objective, timeout=budget, catch=(Exception,),
                   callbacks=[lambda s, t: print(f"  lemonade trial {t.number}: {t.values}",
                                                 flush=True)])  # fmt: skip
    return study, start_wall + budget, time.perf_counter() - start


def _print_event(event) -> None:  # noqa: ANN001
    if event.kind in ("stage", "trial"):
        print(f"  tnd {event.kind}: {event.message}", flush=True)


def config(args) -> TrainConfig:  # noqa: ANN001
    return TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=20000)
    parser.add_argument("--val-size", type=int, default=2000)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--cells", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=3, help="full training of every trial")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.08)
    parser.add_argument("--settings", type=int, default=5, help="TND-NAS trade-off settings")
    parser.add_argument("--search-epochs", type=int, default=2, help="TND-NAS epochs per stage")
    parser.add_argument("--warmup-epochs", type=int, default=1)
    parser.add_argument("--weight-training", choices=["mixture", "sampled"], default="sampled")
    parser.add_argument("--alpha-lr", type=float, default=5.0)
    parser.add_argument("--lemonade-initial", type=int, default=6)
    parser.add_argument(
        "--acceptance",
        choices=["density", "improvement"],
        default="density",
        help="LemonadeSampler acceptance (default: density, as the recorded figures were run)",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(args.threads)
    data = load_data("fashion-mnist", train_size=args.train_size, val_size=args.val_size,
                     test_size=args.test_size, seed=args.seed)  # fmt: skip
    space = NB201Space(channels=args.channels, cells=args.cells)
    p_range = tuple(
        count_params(space.from_params({k: op for k in space.distributions()}),
                     data.input_shape, data.num_classes)
        for op in ("none", "nor_conv_3x3")
    )  # fmt: skip
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        store = FileSystemArtifactStore(tmp)
        print(f"TND-NAS on {data!r}", flush=True)
        tnd, tnd_seconds = run_tnd(args, space, data, store)
        print(f"LEMONADE for the same {tnd_seconds:.0f}s", flush=True)
        lemonade, deadline, lemonade_seconds = run_lemonade(args, space, data, store, tnd_seconds)
    results = {
        "TND-NAS": (tnd, full_trials(tnd), tnd_seconds),
        "LEMONADE": (lemonade, full_trials(lemonade, deadline), lemonade_seconds),
    }
    command = "python -m benchmarks.tnd_vs_lemonade " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out"
    )
    lines = [
        "# TND-NAS vs LEMONADE on Fashion-MNIST, same wall-clock",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}; torch threads {args.threads}; "
        f"date: {datetime.date.today().isoformat()}; 1-min load average {load_before:.1f} "
        f"before, {os.getloadavg()[0]:.1f} after (other processes slow both methods alike "
        "only if the load is steady)",
        f"- space: {space!r} on {data!r}; every network trained {args.epochs} epochs "
        f"(batch {args.batch_size}, lr {args.lr})",
        f"- TND-NAS: {args.settings} trade-off settings (params targets log-spaced over the "
        f"space), {args.warmup_epochs} warm-up + 3 stages x {args.search_epochs} epochs, "
        f"weight training `{args.weight_training}`; LEMONADE: `LemonadeSampler` "
        f"(n_initial={args.lemonade_initial}, n_proposals=64, max_operators=1, acceptance={args.acceptance!r}), trials counted if finished within TND-NAS's time",
        f"- hypervolume: error / {ERROR_SCALE} and (params - {p_range[0]}) / "
        f"({p_range[1]} - {p_range[0]}), reference point {tuple(float(v) for v in REFERENCE)} (best 1.21); "
        "front by validation error, HV also with the front's test error",
        "",
        "| method | wall-clock (s) | full trials | supernet trials | front size | HV (val) | HV (test) |",
        "|---|---|---|---|---|---|---|",
    ]
    fronts = []
    for name, (study, trials, seconds) in results.items():
        front = front_rows(study, trials)
        val = np.array([t.values for t in front]).reshape(-1, 2)
        test = np.array([[1 - t.user_attrs["test_accuracy"], t.values[1]] for t in front])
        test = test.reshape(-1, 2)
        supernet = sum(t.user_attrs.get("fidelity") == "supernet" for t in study.trials)
        lines.append(
            f"| {name} | {seconds:.0f} | {len(trials)} | {supernet} | {len(front)} | "
            f"{hypervolume(val, p_range):.4f} | {hypervolume(test, p_range):.4f} |"
        )
        fronts.append((name, front))
    for name, front in fronts:
        lines += ["", f"Front of {name}:", "", "| params | val error | test error | architecture |",
                  "|---|---|---|---|"]  # fmt: skip
        lines += [
            f"| {t.values[1]:.0f} | {t.values[0]:.4f} | {1 - t.user_attrs['test_accuracy']:.4f} "
            f"| `{t.user_attrs['arch_str']}` |"
            for t in front
        ]
    emit(lines, args.out)


if __name__ == "__main__":
    main()
