"""LEMONADE with and without Lamarckian inheritance at equal wall-clock (the paper's RQ2).

Run: ``python -m benchmarks.lemonade_inheritance [--seeds 3 --budget 900 ...] [--out FILE]``
(``--quick``: one seed, 120 s per variant, to check the script, not to measure).

Per seed, two LEMONADE searches run at the same time, each in its own process pinned
to one core with one torch thread (the cores swap between seeds): ``inherit`` warm-starts
every child from its parent's trained weights (distilling approximate-morphism children
first, as ``NASObjective`` does); ``fresh`` is ``NASObjective(..., inherit=False)``,
every network from new weights. Everything else is the same: ``LemonadeSampler`` and its
seed, the data split, the recipe (every trial trains ``--epochs`` epochs, so inheritance
can only win by better starting points; distillation epochs count against its clock),
and the wall-clock budget (``study.optimize(timeout=...)``: a trial still running at the
deadline finishes but does not count).

Hypervolume of (validation error, params) over the trials completed by time t, with
``optuna._hypervolume.compute_hypervolume`` on fixed axes shared by both variants and
all seeds: error / ``--error-scale``, and log(params) scaled to [0, 1] between the
smallest and the largest network of the space (params span two orders of magnitude);
reference point (1.1, 1.1), best possible 1.21. The time-to-reach ratio is
t_inherit / t_fresh, the times at which each run first reaches the fresh run's final
hypervolume (below 1: inheritance is faster). Timing matters: run on a quiet machine.
"""

from __future__ import annotations

import argparse
import datetime
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

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

OBJECTIVES = ["error", "params"]
VARIANTS = ("inherit", "fresh")
REFERENCE = np.array([1.1, 1.1])
Trace = tuple[np.ndarray, np.ndarray]
"""Completion times (s from the run's start, ascending) and the hypervolume after each."""


# ---------------------------------------------------------------------- hypervolume over time
def normalise(points: np.ndarray, error_scale: float, params_range: tuple[int, int]) -> np.ndarray:
    """``(error, params)`` rows -> (error / scale, log-params scaled to [0, 1])."""
    low, high = np.log(params_range)
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    return np.column_stack(
        [points[:, 0] / error_scale, (np.log(points[:, 1]) - low) / (high - low)]
    )


def hypervolume(normalised: np.ndarray) -> float:
    """HV of normalised points w.r.t. :data:`REFERENCE`, 0 without points inside it."""
    inside = normalised[(normalised <= REFERENCE).all(axis=1)]
    return float(compute_hypervolume(inside, REFERENCE)) if len(inside) else 0.0


def hv_trace(times: np.ndarray, normalised: np.ndarray) -> Trace:
    """Hypervolume of all points completed by each completion time."""
    order = np.argsort(times, kind="stable")
    hv = [hypervolume(normalised[order[: i + 1]]) for i in range(len(order))]
    return np.asarray(times, dtype=float)[order], np.array(hv)


def hv_at(trace: Trace, t: float) -> float:
    """Hypervolume at time ``t`` (0 before the first completion)."""
    times, hv = trace
    i = np.searchsorted(times, t, side="right")
    return float(hv[i - 1]) if i else 0.0


def time_to_reach(trace: Trace, target: float) -> float | None:
    """The first completion time with hypervolume >= ``target``; ``None`` if never."""
    times, hv = trace
    hit = np.flatnonzero(hv >= target - 1e-12)
    return float(times[hit[0]]) if len(hit) else None


# ---------------------------------------------------------------------- one search
def space_of(args: dict) -> NB201Space:
    return NB201Space(channels=args["channels"], cells=args["cells"])


def data_of(args: dict):  # noqa: ANN201
    return load_data(
        "fashion-mnist",
        train_size=args["train_size"],
        val_size=args["val_size"],
        test_size=args["test_size"],
        seed=args["data_seed"],
    )


def params_range(space: NB201Space, data, args: dict) -> tuple[int, int]:  # noqa: ANN001
    """Params of the smallest (all ``none``) and the largest (all conv3x3) network."""
    ops = [name for name in space.distributions() if name.startswith("op_")]
    return tuple(
        count_params(
            space.from_params({**dict.fromkeys(ops, op), "channels": c, "cells": n}),
            data.input_shape,
            data.num_classes,
        )
        for op, c, n in (
            ("none", min(args["channels"]), min(args["cells"])),
            ("nor_conv_3x3", max(args["channels"]), max(args["cells"])),
        )
    )


def storage_of(variant: str, workdir: str) -> str:
    return f"sqlite:///{workdir}/{variant}.db"


def run_variant(variant: str, seed: int, core: int, workdir: str, args: dict) -> float:
    """One LEMONADE search for ``args["budget"]`` s on ``core``; returns its start (POSIX).

    The study goes to ``<workdir>/<variant>.db``, the weights to ``<workdir>/<variant>/``.
    """
    os.sched_setaffinity(0, {core})
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space, data = space_of(args), data_of(args)
    sampler = LemonadeSampler(
        space,
        seed=seed,
        n_initial=args["n_initial"],
        n_proposals=args["n_proposals"],
        max_operators=args["max_operators"],
        acceptance=args["acceptance"],
    )
    study = create_study(
        OBJECTIVES, storage=storage_of(variant, workdir), study_name=variant, sampler=sampler
    )
    os.makedirs(artifacts := os.path.join(workdir, variant))
    recipe = TrainConfig(
        epochs=args["epochs"], batch_size=args["batch_size"], lr=args["lr"], seed=seed, device="cpu"
    )
    store = FileSystemArtifactStore(artifacts)
    objective = NASObjective(space, data, OBJECTIVES, recipe, store, inherit=variant == "inherit")
    start = time.time()

    def progress(study: optuna.Study, trial: FrozenTrial) -> None:
        values = (
            "failed"
            if trial.values is None
            else f"error {trial.values[0]:.4f}, params {trial.values[1]:.0f}"
        )
        print(
            f"  seed {seed} {variant:7} core {core} {time.time() - start:6.0f}s "
            f"trial {trial.number}: {values} ({trial.user_attrs.get('operator') or 'random'})",
            flush=True,
        )

    # No `catch`: NASObjective already fails known problems (divergence, memory) as FAIL;
    # anything else is a bug that must stop the benchmark, not thin out one variant.
    study.optimize(objective, timeout=args["budget"], callbacks=[progress])
    return start


def counted(
    study: optuna.Study, start: float, budget: float
) -> tuple[list[FrozenTrial], np.ndarray]:
    """COMPLETE trials finished within the budget and their completion times (s)."""
    trials, times = [], []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        elapsed = t.datetime_complete.timestamp() - start
        if elapsed <= budget:
            trials.append(t)
            times.append(elapsed)
    return trials, np.array(times)


def summarise(study: optuna.Study, start: float, args: dict, p_range: tuple[int, int]) -> dict:
    trials, times = counted(study, start, args["budget"])
    scale = args["error_scale"]
    val = normalise(np.array([t.values for t in trials]), scale, p_range)
    front = [trials[i] for i in pareto_indices(study, trials)]
    test = [[1 - t.user_attrs["test_accuracy"], t.values[1]] for t in front]
    children = [t for t in trials if t.user_attrs.get("parent_trial") is not None]
    warm = [
        t.user_attrs["initial_val_accuracy"]
        for t in children
        if "initial_val_accuracy" in t.user_attrs
    ]
    return {
        "trace": hv_trace(times, val),
        "trials": len(trials),
        "failed": sum(t.state == TrialState.FAIL for t in study.get_trials(deepcopy=False)),
        "children": len(children),
        "warm_start": float(np.median(warm)) if warm else None,
        "front": len(front),
        "hv_test": hypervolume(normalise(np.array(test), scale, p_range)),
        "best_error": min((t.values[0] for t in trials), default=float("nan")),
    }


def run_seed(seed: int, cores: tuple[int, int], args: dict, p_range: tuple[int, int]) -> dict:
    """Both variants of one seed at the same time, on swapped cores for odd seeds."""
    pinned = dict(zip(VARIANTS, cores if seed % 2 == 0 else cores[::-1], strict=True))
    with tempfile.TemporaryDirectory(prefix="lemonade-inheritance-") as tmp:
        with ProcessPoolExecutor(len(VARIANTS), mp_context=get_context("spawn")) as pool:
            futures = {v: pool.submit(run_variant, v, seed, pinned[v], tmp, args) for v in VARIANTS}
            starts = {v: f.result() for v, f in futures.items()}
        result = {}
        for v in VARIANTS:
            study = optuna.load_study(study_name=v, storage=storage_of(v, tmp))
            result[v] = summarise(study, starts[v], args, p_range)
    for v in VARIANTS:
        result[v]["core"] = pinned[v]
    result["load"] = os.getloadavg()[0]
    return result


# ---------------------------------------------------------------------- the report
def reach_row(seed: str, res: dict, budget: float) -> tuple[str, float | None, bool]:
    """The markdown row of time-to-reach, the ratio, and whether it is censored."""
    target = hv_at(res["fresh"]["trace"], budget)
    t_fresh = time_to_reach(res["fresh"]["trace"], target)
    t_inherit = time_to_reach(res["inherit"]["trace"], target)
    if not target or not t_fresh:
        return f"| {seed} | {target:.4f} | - | - | n/a |", None, False
    if t_inherit is None:  # not reached within the budget: a lower bound
        ratio = budget / t_fresh
        return (
            f"| {seed} | {target:.4f} | {t_fresh:.0f} | > {budget:.0f} | > {ratio:.2f} |",
            ratio,
            True,
        )
    ratio = t_inherit / t_fresh
    return (
        f"| {seed} | {target:.4f} | {t_fresh:.0f} | {t_inherit:.0f} | {ratio:.2f} |",
        ratio,
        False,
    )


def report(
    args: dict, command: str, results: dict, p_range: tuple[int, int], load: tuple
) -> list[str]:
    budget, seeds = args["budget"], sorted(results)
    lines = [
        "# LEMONADE: Lamarckian inheritance vs fresh weights, same wall-clock",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}; each run pinned to one core, 1 torch thread; date: "
        f"{datetime.date.today().isoformat()}; 1-min load average {load[0]:.1f} before, "
        f"{load[1]:.1f} after (2 runs at a time: about 2 on a quiet machine)",
        f"- space: {space_of(args)!r} on Fashion-MNIST (train {args['train_size']}, val "
        f"{args['val_size']}, test {args['test_size']}, split seed {args['data_seed']}); "
        f"objectives (validation error, params)",
        f"- recipe: every trial trains {args['epochs']} epochs (batch {args['batch_size']}, lr "
        f"{args['lr']}, warm-up + cosine, training seed = the search seed), in both variants; "
        f"`inherit` children start from the parent's weights and approximate-morphism children "
        f"are first distilled for {max(1, args['epochs'] // 4)} epoch(s), on the same clock",
        f"- search: `LemonadeSampler(n_initial={args['n_initial']}, n_proposals="
        f"{args['n_proposals']}, max_operators={args['max_operators']}, "
        f"acceptance={args['acceptance']!r}, seed=<seed>)`; budget {budget:.0f} s per run "
        f"(`study.optimize(timeout=...)`), trials completed after it not counted",
        f"- hypervolume: error / {args['error_scale']} and (log params - log {p_range[0]}) / "
        f"(log {p_range[1]} - log {p_range[0]}) (smallest / largest network of the space), "
        f"reference point (1.1, 1.1), best possible 1.21",
        "",
        "## Hypervolume (validation error) over time",
        "",
        "| time (s) | "
        + " | ".join(f"seed {s} inherit | seed {s} fresh" for s in seeds)
        + " | mean inherit | mean fresh |",
        "|---|" + "---|" * (2 * len(seeds) + 2),
    ]
    for k in range(1, args["grid"] + 1):
        t = budget * k / args["grid"]
        hv = {v: [hv_at(results[s][v]["trace"], t) for s in seeds] for v in VARIANTS}
        cells = [f"{hv[v][i]:.4f}" for i in range(len(seeds)) for v in VARIANTS]
        lines.append(
            f"| {t:.0f} | "
            + " | ".join(cells)
            + f" | {np.mean(hv['inherit']):.4f} | {np.mean(hv['fresh']):.4f} |"
        )
    lines += [
        "",
        "## Time to reach the fresh run's final hypervolume",
        "",
        "t: seconds from the run's start to the first completed trial at which the run's "
        "hypervolume reaches the target; ratio t_inherit / t_fresh (below 1: inheritance "
        "gets there sooner; `>`: inheritance did not reach it within the budget).",
        "",
        "| seed | target HV | t_fresh (s) | t_inherit (s) | ratio |",
        "|---|---|---|---|---|",
    ]
    ratios, censored = [], False
    for s in seeds:
        row, ratio, cut = reach_row(str(s), results[s], budget)
        lines.append(row)
        if ratio is not None:
            ratios.append(ratio)
            censored |= cut
    mean = f"{'> ' if censored else ''}{np.mean(ratios):.2f}" if ratios else "n/a"
    lines += [
        f"| mean | | | | {mean} |",
        "",
        "## Final fronts (trials completed within the budget)",
        "",
        "| seed | variant | core | trials | failed | children | median warm-start val acc "
        "| best val error | front size | HV (val) | HV (test) | load at end |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in seeds:
        for v in VARIANTS:
            r = results[s][v]
            warm = "-" if r["warm_start"] is None else f"{r['warm_start']:.3f}"
            lines.append(
                f"| {s} | {v} | {r['core']} | {r['trials']} | {r['failed']} | {r['children']} | "
                f"{warm} | {r['best_error']:.4f} | {r['front']} | {hv_at(r['trace'], budget):.4f} "
                f"| {r['hv_test']:.4f} | {results[s]['load']:.1f} |"
            )
    lines += [
        "",
        "HV (test): the validation front's members scored with their test error. "
        "Warm-start val acc: a child's validation accuracy right after inheriting "
        "(before any training), median over the run's children.",
    ]
    return lines


def add_run_args(parser: argparse.ArgumentParser) -> None:
    """The options a Fashion-MNIST search run shares with the other timed benchmarks."""
    parser.add_argument("--channels", default="4,8,16")
    parser.add_argument("--cells", default="1,2")
    parser.add_argument("--train-size", type=int, default=5000)
    parser.add_argument("--val-size", type=int, default=2000)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=2, help="per trial")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.08)
    parser.add_argument("--error-scale", type=float, default=0.5)
    parser.add_argument("--grid", type=int, default=10, help="time points in the HV table")
    parser.add_argument("--cores", default=None, help="two CPU ids (default: the first two)")


def run_settings(ns: argparse.Namespace, module: str) -> tuple[dict, str]:
    """The parsed options as a dict (channels and cells as lists) and the command to rerun."""
    command = f"python -m {module} " + " ".join(
        f"--{k.replace('_', '-')} {v}"
        for k, v in vars(ns).items()
        if k not in ("out", "quick") and v is not None
    )
    lists = {key: [int(c) for c in getattr(ns, key).split(",")] for key in ("channels", "cells")}
    return vars(ns) | lists, command


def two_cores(parser: argparse.ArgumentParser, option: str | None) -> tuple[int, int]:
    """The two CPU ids of ``--cores`` (default: the first two this process may use)."""
    available = sorted(os.sched_getaffinity(0))
    cores = tuple(int(c) for c in option.split(",")) if option else tuple(available[:2])
    if len(cores) != 2 or not set(cores) <= set(available) or cores[0] == cores[1]:
        parser.error(f"--cores needs two different CPU ids out of {available}, got {option}.")
    return cores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="search seeds 0..N-1")
    parser.add_argument("--budget", type=float, default=900.0, help="seconds per run")
    add_run_args(parser)
    parser.add_argument("--n-initial", type=int, default=6)
    parser.add_argument("--n-proposals", type=int, default=64)
    parser.add_argument(
        "--max-operators", type=int, default=1, help="1: single-operator children, as recorded"
    )
    parser.add_argument(
        "--acceptance",
        choices=["density", "improvement"],
        default="density",
        help="LemonadeSampler acceptance (default: density, as the recorded figures were run)",
    )
    parser.add_argument("--quick", action="store_true", help="1 seed, 120 s: a check only")
    parser.add_argument("--out", default=None)
    ns = parser.parse_args()
    if ns.quick:
        ns.seeds, ns.budget = 1, 120.0
    cores = two_cores(parser, ns.cores)
    args, command = run_settings(ns, "benchmarks.lemonade_inheritance")
    space, data = space_of(args), data_of(args)  # also fetches the data once, before the clocks
    p_range = params_range(space, data, args)
    load_before = os.getloadavg()[0]
    results = {}
    for seed in range(ns.seeds):
        print(f"seed {seed}: both variants for {ns.budget:.0f} s on cores {cores}", flush=True)
        results[seed] = run_seed(seed, cores, args, p_range)
    emit(report(args, command, results, p_range, (load_before, os.getloadavg()[0])), ns.out)


if __name__ == "__main__":
    main()
