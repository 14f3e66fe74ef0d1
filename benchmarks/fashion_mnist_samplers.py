"""Samplers against each other on real training: Fashion-MNIST, the same wall-clock each.

Run: ``python -m benchmarks.fashion_mnist_samplers [--samplers lemonade,nao,nsga2,tpe,random
--seeds 3 --budget 600 ...] [--out FILE]`` (``--quick``: 1 seed, 90 s, to check the script).

The NAS-Bench-201 table (``run_nb201``) compares samplers by evaluations of a lookup table;
here every trial trains a network, so what counts is the hypervolume reached in the same
time, and a sampler pays for its own overhead and, for LEMONADE, gains from warm-started
children (``NASObjective`` inherits the parent's weights; approximate-morphism children
are distilled first, on the same clock). Every run is its own process pinned to one core
with one torch thread, two runs at a time (those of one seed side by side, where possible);
the samplers are the ones ``optuna-nas search --sampler NAME --n-initial K`` builds, so all
model-based ones start from the same number of random trials. Everything else is shared:
the space, the data split, the recipe (every trial trains ``--epochs`` epochs), and the
budget (``study.optimize(timeout=...)``: a trial still running at the deadline is not
counted). Hypervolume axes and reference are those of ``lemonade_inheritance``: error /
``--error-scale`` and log(params) scaled to [0, 1] between the smallest and the largest
network of the space, reference point (1.1, 1.1), best possible 1.21.
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
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import FrozenTrial, TrialState

from benchmarks._report import emit, machine
from benchmarks.lemonade_inheritance import (
    add_run_args,
    counted,
    data_of,
    hv_at,
    hv_trace,
    hypervolume,
    normalise,
    params_range,
    run_settings,
    space_of,
    two_cores,
)
from optuna_nas import NASObjective, TrainConfig, create_study
from optuna_nas.samplers import make_sampler
from optuna_nas.search import pareto_indices

OBJECTIVES = ["error", "params"]


def run_one(sampler_name: str, seed: int, core: int, workdir: str, args: dict) -> dict:
    """One search for ``args["budget"]`` s on ``core``; its summary."""
    os.sched_setaffinity(0, {core})
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space, data = space_of(args), data_of(args)
    name = f"{sampler_name}-{seed}"
    sampler = make_sampler(sampler_name, space, seed, args["n_initial"])
    storage = f"sqlite:///{workdir}/{name}.db"
    study = create_study(OBJECTIVES, storage=storage, study_name=name, sampler=sampler)
    os.makedirs(artifacts := os.path.join(workdir, name))
    recipe = TrainConfig(epochs=args["epochs"], batch_size=args["batch_size"], lr=args["lr"],
                         seed=seed, device="cpu")  # fmt: skip
    objective = NASObjective(space, data, OBJECTIVES, recipe, FileSystemArtifactStore(artifacts))
    start = time.time()

    def progress(study: optuna.Study, trial: FrozenTrial) -> None:
        values = "failed" if trial.values is None else (
            f"error {trial.values[0]:.4f}, params {trial.values[1]:.0f}")  # fmt: skip
        print(f"  {name:12} core {core} {time.time() - start:6.0f}s trial {trial.number}: "
              f"{values}", flush=True)  # fmt: skip

    # No `catch`: NASObjective fails known problems (divergence, memory) as FAIL itself.
    study.optimize(objective, timeout=args["budget"], callbacks=[progress])
    return summarise(study, start, args)


def summarise(study: optuna.Study, start: float, args: dict) -> dict:
    trials, times = counted(study, start, args["budget"])
    p_range, scale = args["p_range"], args["error_scale"]
    front = [trials[i] for i in pareto_indices(study, trials)]
    test = [[1 - t.user_attrs["test_accuracy"], t.values[1]] for t in front]
    return {
        "trace": hv_trace(times, normalise(np.array([t.values for t in trials]), scale, p_range)),
        "trials": len(trials),
        "failed": sum(t.state == TrialState.FAIL for t in study.get_trials(deepcopy=False)),
        "front": len(front),
        "hv_test": hypervolume(normalise(np.array(test), scale, p_range)),
        "best_error": min((t.values[0] for t in trials), default=float("nan")),
        "train_s": float(np.median([t.user_attrs["train_seconds"] for t in trials])),
    }


def run_all(samplers: list[str], seeds: int, cores: tuple[int, int], args: dict) -> dict:
    """Every (sampler, seed) run, two at a time; the second of a pair on the other core."""
    jobs = [(s, seed) for seed in range(seeds) for s in samplers]
    results: dict[tuple[str, int], dict] = {}
    with tempfile.TemporaryDirectory(prefix="fashion-mnist-samplers-") as tmp:
        for i in range(0, len(jobs), 2):
            pair = jobs[i : i + 2]
            print(f"runs {pair} for {args['budget']:.0f} s on cores {cores}", flush=True)
            with ProcessPoolExecutor(len(pair), mp_context=get_context("spawn")) as pool:
                futures = {
                    job: pool.submit(run_one, *job, cores[k], tmp, args)
                    for k, job in enumerate(pair)
                }
                done = {job: future.result() for job, future in futures.items()}
            load = os.getloadavg()[0]  # at the pair's end: about 2 on a quiet machine
            results |= {job: r | {"load": load} for job, r in done.items()}
    return results


def report(args: dict, command: str, samplers: list[str], seeds: int, results: dict,
           load: tuple[float, float]) -> list[str]:  # fmt: skip
    budget, p_range = args["budget"], args["p_range"]
    final = {s: [hv_at(results[s, k]["trace"], budget) for k in range(seeds)] for s in samplers}
    lines = [
        "# Samplers on real training: Fashion-MNIST, same wall-clock",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}; each run pinned to one core, 1 torch thread, two runs at a "
        f"time; date: {datetime.date.today().isoformat()}; 1-min load average {load[0]:.1f} "
        f"before, {load[1]:.1f} after",
        f"- space: {space_of(args)!r} on Fashion-MNIST (train {args['train_size']}, val "
        f"{args['val_size']}, test {args['test_size']}, split seed {args['data_seed']}); "
        "objectives (validation error, params)",
        f"- recipe: every trial trains {args['epochs']} epochs (batch {args['batch_size']}, lr "
        f"{args['lr']}, warm-up + cosine, training seed = the search seed); LEMONADE's children "
        "start from their parent's weights (approximate morphisms distilled first)",
        f"- samplers: as `optuna-nas search --sampler NAME --n-initial {args['n_initial']}` "
        f"builds them (TPE n_startup_trials, NSGA-II population_size, LEMONADE and NAO "
        f"n_initial = {args['n_initial']}; otherwise defaults); budget {budget:.0f} s per run, "
        "trials completed after it not counted",
        f"- hypervolume: error / {args['error_scale']} and (log params - log {p_range[0]}) / "
        f"(log {p_range[1]} - log {p_range[0]}), reference point (1.1, 1.1), best possible 1.21",
        "",
        "## Mean hypervolume (validation error) over time",
        "",
        "| time (s) | " + " | ".join(samplers) + " |",
        "|---|" + "---|" * len(samplers),
    ]
    for k in range(1, args["grid"] + 1):
        t = budget * k / args["grid"]
        means = [np.mean([hv_at(results[s, i]["trace"], t) for i in range(seeds)])
                 for s in samplers]  # fmt: skip
        lines.append(f"| {t:.0f} | " + " | ".join(f"{m:.4f}" for m in means) + " |")
    lines += [
        "",
        "## Final hypervolume per seed",
        "",
        "| sampler | "
        + " | ".join(f"seed {k}" for k in range(seeds))
        + " | mean | wins (best of the seed) |",
        "|---|" + "---|" * (seeds + 2),
    ]
    best = [max(final[s][k] for s in samplers) for k in range(seeds)]
    for s in samplers:
        wins = sum(final[s][k] >= best[k] - 1e-12 for k in range(seeds))
        lines.append(f"| {s} | " + " | ".join(f"{v:.4f}" for v in final[s])
                     + f" | {np.mean(final[s]):.4f} | {wins} |")  # fmt: skip
    lines += [
        "",
        "## Runs",
        "",
        "| sampler | seed | trials | failed | median train s | best val error | front size "
        "| HV (val) | HV (test) | load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in samplers:
        for k in range(seeds):
            r = results[s, k]
            lines.append(
                f"| {s} | {k} | {r['trials']} | {r['failed']} | {r['train_s']:.1f} | "
                f"{r['best_error']:.4f} | {r['front']} | {final[s][k]:.4f} | {r['hv_test']:.4f} "
                f"| {r['load']:.1f} |"
            )
    lines += [
        "",
        "HV (test): the validation front's members scored with their test error. "
        "Median train s: a trial's training time (LEMONADE's includes distillation).",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samplers", default="lemonade,nao,nsga2,tpe,random")
    parser.add_argument("--seeds", type=int, default=3, help="search seeds 0..N-1")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--n-initial", type=int, default=6)
    add_run_args(parser)
    parser.add_argument("--quick", action="store_true", help="1 seed, 90 s: a check only")
    parser.add_argument("--out", default=None)
    ns = parser.parse_args()
    if ns.quick:
        ns.seeds, ns.budget = 1, 90.0
    cores = two_cores(parser, ns.cores)
    samplers = ns.samplers.split(",")
    args, command = run_settings(ns, "benchmarks.fashion_mnist_samplers")
    space, data = space_of(args), data_of(args)  # also fetches the data once, before the clocks
    for name in samplers:
        make_sampler(name, space, 0, ns.n_initial)  # an unknown name fails before any run
    args["p_range"] = params_range(space, data, args)
    load_before = os.getloadavg()[0]
    results = run_all(samplers, ns.seeds, cores, args)
    lines = report(args, command, samplers, ns.seeds, results, (load_before, os.getloadavg()[0]))
    emit(lines, ns.out)


if __name__ == "__main__":
    main()
