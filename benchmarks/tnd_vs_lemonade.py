"""TND-NAS against LEMONADE, NSGA-II and TPE on Fashion-MNIST: same data, same wall-clock.

Run: ``python -m benchmarks.tnd_vs_lemonade [--samplers tnd,lemonade,nsga2,tpe --seeds 3
--settings 8 --budget S ...] [--out FILE]`` (``--quick``: 1 seed, tiny data, to check it).

Every run is its own process pinned to one core with one torch thread, two runs at a
time. TND-NAS runs first, for every seed (``TNDSearch``: supernet search with one
shared pool of scored sub-networks for all ``--settings`` trade-offs, then each
setting's derived architecture trained from scratch); unless ``--budget`` is given, the
wall-clock of a seed's TND-NAS run is the budget of that seed's other runs, the
samplers ``optuna-nas search --sampler NAME --n-initial K`` builds, each trial an
ordinary ``NASObjective`` trial (``study.optimize(timeout=budget)``). All train their
networks with the same recipe on the same split. A trial counts if it finished within
the budget; TND-NAS's supernet-scored trials (``fidelity="supernet"``) never count,
only its fully trained ones, which sit in the front like every other sampler's trials.

Hypervolume over time: of (validation error, params) of the trials completed by time
t, with ``optuna._hypervolume.compute_hypervolume`` on normalised axes, error / 0.5
(``--error-scale``) and (params - P_min) / (P_max - P_min) with P_min / P_max the
smallest / largest network of the space, reference point (1.1, 1.1), best possible 1.21 (the axes of the recorded
one-seed run). Time to NSGA-II's final HV: per seed, the first time each run's HV
reached what NSGA-II had at the budget. Timing matters: run it on a quiet machine.
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
from benchmarks.lemonade_inheritance import hv_at, hv_trace, hypervolume, time_to_reach, two_cores
from optuna_nas import NASObjective, NB201Space, TrainConfig, create_study, load_data
from optuna_nas.objectives import count_params
from optuna_nas.samplers import make_sampler
from optuna_nas.search import pareto_indices
from optuna_nas.tnd import TNDSearch, trade_off_ladder

OBJECTIVES = ["error", "params"]
NAMES = {"tnd": "TND-NAS", "lemonade": "LEMONADE", "nsga2": "NSGA-II", "tpe": "TPE",
         "random": "random", "nao": "NAO"}  # fmt: skip


def normalise(points: np.ndarray, p_range: tuple[int, int], error_scale: float) -> np.ndarray:
    """``(error, params)`` rows -> (error / scale, params scaled linearly to [0, 1])."""
    low, high = p_range
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    return np.column_stack([points[:, 0] / error_scale, (points[:, 1] - low) / (high - low)])


def space_of(args: dict) -> NB201Space:
    return NB201Space(channels=args["channels"], cells=args["cells"])


def data_of(args: dict):  # noqa: ANN201
    return load_data(args["dataset"], train_size=args["train_size"], val_size=args["val_size"],
                     test_size=args["test_size"], seed=args["data_seed"])  # fmt: skip


def recipe(args: dict, seed: int, epochs: int) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=args["batch_size"], lr=args["lr"], seed=seed,
                       device="cpu")  # fmt: skip


# ---------------------------------------------------------------------- one run
def run_one(name: str, seed: int, core: int, workdir: str, args: dict) -> dict:
    """One search on ``core``: TND-NAS to its end, another sampler for its seed's budget."""
    os.sched_setaffinity(0, {core})
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space, data = space_of(args), data_of(args)
    run = f"{name}-{seed}"
    study_args = dict(storage=f"sqlite:///{workdir}/{run}.db", study_name=run)
    os.makedirs(artifacts := os.path.join(workdir, run))
    store = FileSystemArtifactStore(artifacts)
    start = time.time()

    def progress(study: optuna.Study, trial: FrozenTrial) -> None:
        values = "failed" if trial.values is None else (
            f"error {trial.values[0]:.4f}, params {trial.values[1]:.0f}")  # fmt: skip
        print(f"  {run:12} core {core} {time.time() - start:6.0f}s trial {trial.number}: "
              f"{values}", flush=True)  # fmt: skip

    if name == "tnd":
        study = create_study(OBJECTIVES, **study_args)
        settings = trade_off_ladder(space, "params", args["settings"], input_shape=data.input_shape,
                                    num_classes=data.num_classes, seed=seed)  # fmt: skip
        search = TNDSearch(
            study, space, data, settings,
            search_config=recipe(args, seed, args["search_epochs"]),
            train_config=recipe(args, seed, args["epochs"]),
            samples_per_update=args["samples"], warmup_epochs=args["warmup_epochs"],
            weight_training=args["weight_training"], artifact_store=store, seed=seed,
            callbacks=[lambda event: stage_line(run, core, start, event)],
        )  # fmt: skip
        search.run()
        search_seconds = min(
            (t.datetime_start.timestamp() - start for t in full_trials(study)), default=0.0
        )
        budget = args["budget"] or (time.time() - start)
    else:
        sampler = make_sampler(name, space, seed, args["n_initial"])
        study = create_study(OBJECTIVES, sampler=sampler, **study_args)
        objective = NASObjective(space, data, OBJECTIVES, recipe(args, seed, args["epochs"]), store)
        budget = args["budget"] or args["tnd_budget"][seed]
        study.optimize(objective, timeout=budget, callbacks=[progress])
        search_seconds = None
    return summarise(study, start, budget, args) | {"search_s": search_seconds}


def stage_line(run: str, core: int, start: float, event) -> None:  # noqa: ANN001
    if event.kind in ("stage", "final", "trial"):
        print(f"  {run:12} core {core} {time.time() - start:6.0f}s {event.message}", flush=True)


def full_trials(study: optuna.Study) -> list[FrozenTrial]:
    """COMPLETE, fully trained trials (all of an ordinary sampler's; TND-NAS's derived ones)."""
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.user_attrs.get("fidelity") == "full"]  # fmt: skip


def summarise(study: optuna.Study, start: float, budget: float, args: dict) -> dict:
    """HV trace of the counted trials; the front as distinct points (re-evaluations count once)."""
    p_range, scale = args["p_range"], args["error_scale"]
    trials, times = [], []
    for t in full_trials(study):
        if (elapsed := t.datetime_complete.timestamp() - start) <= budget:
            trials.append(t)
            times.append(elapsed)
    distinct = {
        tuple(t.values): t for t in reversed([trials[i] for i in pareto_indices(study, trials)])
    }
    front = sorted(distinct.values(), key=lambda t: t.values[1])
    test = [[1 - t.user_attrs["test_accuracy"], t.values[1]] for t in front]
    supernet = sum(
        t.user_attrs.get("fidelity") == "supernet" for t in study.get_trials(deepcopy=False)
    )
    return {
        "trace": hv_trace(
            np.array(times), normalise(np.array([t.values for t in trials]), p_range, scale)
        ),
        "budget": budget,
        "trials": len(trials),
        "supernet": supernet,
        "front": [
            (t.values[1], t.values[0], 1 - t.user_attrs["test_accuracy"], t.user_attrs["arch_str"])
            for t in front
        ],  # fmt: skip
        "hv_test": hypervolume(normalise(np.array(test), p_range, scale)),
        "load": os.getloadavg()[0],
    }


def run_pairs(jobs: list[tuple[str, int]], cores: tuple[int, int], args: dict, tmp: str) -> dict:
    """Every (sampler, seed) job, two at a time, one per core."""
    results = {}
    for i in range(0, len(jobs), 2):
        pair = jobs[i : i + 2]
        print(f"runs {pair} on cores {cores}", flush=True)
        with ProcessPoolExecutor(len(pair), mp_context=get_context("spawn")) as pool:
            futures = {job: pool.submit(run_one, *job, cores[k], tmp, args)
                       for k, job in enumerate(pair)}  # fmt: skip
            results |= {job: future.result() for job, future in futures.items()}
    return results


# ---------------------------------------------------------------------- the report
def report(args: dict, command: str, samplers: list[str], seeds: int, results: dict,
           load: tuple[float, float]) -> list[str]:  # fmt: skip
    p_range = args["p_range"]
    budgets = [results[samplers[0], k]["budget"] for k in range(seeds)]
    final = {s: [hv_at(results[s, k]["trace"], results[s, k]["budget"]) for k in range(seeds)]
             for s in samplers}  # fmt: skip
    names = [NAMES.get(s, s) for s in samplers]
    budget_text = (f"{args['budget']:.0f} s per run" if args["budget"] else
                   "each seed's TND-NAS wall-clock (" + ", ".join(f"{b:.0f}" for b in budgets)
                   + " s)")  # fmt: skip
    lines = [
        "# TND-NAS vs LEMONADE, NSGA-II and TPE on Fashion-MNIST, same wall-clock",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}; each run pinned to one core, 1 torch thread, two runs at a "
        f"time; date: {datetime.date.today().isoformat()}; 1-min load average {load[0]:.1f} "
        f"before, {load[1]:.1f} after",
        f"- space: {space_of(args)!r} on {args['dataset']} (train {args['train_size']}, val "
        f"{args['val_size']}, test {args['test_size']}, split seed {args['data_seed']}); every "
        f"network trained {args['epochs']} epochs (batch {args['batch_size']}, lr {args['lr']})",
        f"- TND-NAS: {args['settings']} trade-off settings (params targets log-spaced), "
        f"{args['warmup_epochs']} warm-up + 3 stages x {args['search_epochs']} epochs, one pool "
        f"of {args['samples']} scored sub-networks per α update, weight training "
        f"`{args['weight_training']}`; others as `optuna-nas search --sampler NAME --n-initial "
        f"{args['n_initial']}` builds them; budget: {budget_text}",
        f"- hypervolume: error / {args['error_scale']} and (params - {p_range[0]}) / ({p_range[1]} - "
        f"{p_range[0]}), reference point (1.1, 1.1) (best 1.21); front by validation error",
        "",
        "## Mean hypervolume (validation error) over time",
        "",
        "| time (s) | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(samplers),
    ]
    horizon = min(budgets)
    for k in range(1, args["grid"] + 1):
        t = horizon * k / args["grid"]
        means = [np.mean([hv_at(results[s, i]["trace"], t) for i in range(seeds)])
                 for s in samplers]  # fmt: skip
        lines.append(f"| {t:.0f} | " + " | ".join(f"{m:.4f}" for m in means) + " |")
    lines += ["", "## Final hypervolume, front size and time to NSGA-II's final HV", "",
              "| method | seed | budget s | full trials | supernet trials | front size | HV (val) "
              "| HV (test) | s to NSGA-II's final HV | TND search s | load |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for s, name in zip(samplers, names, strict=True):
        for k in range(seeds):
            r = results[s, k]
            target = final["nsga2"][k] if "nsga2" in final and final["nsga2"][k] > 0 else None
            reach = None if target is None else time_to_reach(r["trace"], target)
            reach_text = (
                "-" if target is None else "not reached" if reach is None else f"{reach:.0f}"
            )
            search_text = "-" if r["search_s"] is None else f"{r['search_s']:.0f}"
            lines.append(
                f"| {name} | {k} | {r['budget']:.0f} | {r['trials']} | {r['supernet']} | "
                f"{len(r['front'])} | {final[s][k]:.4f} | {r['hv_test']:.4f} | {reach_text} | "
                f"{search_text} | {r['load']:.1f} |"
            )
    lines += ["", "| method | mean HV (val) | std | mean front size |", "|---|---|---|---|"]
    for s, name in zip(samplers, names, strict=True):
        sizes = [len(results[s, k]["front"]) for k in range(seeds)]
        lines.append(f"| {name} | {np.mean(final[s]):.4f} | {np.std(final[s]):.4f} | "
                     f"{np.mean(sizes):.1f} |")  # fmt: skip
    for s, name in zip(samplers, names, strict=True):
        lines += ["", f"Front of {name}, seed 0:", "",
                  "| params | val error | test error | architecture |", "|---|---|---|---|"]  # fmt: skip
        lines += [
            f"| {p:.0f} | {e:.4f} | {te:.4f} | `{a}` |" for p, e, te, a in results[s, 0]["front"]
        ]
    lines += ["", "TND search s: from the run's start to its first full trial's start (supernet "
              "search and derivation); its full trials train after it."]  # fmt: skip
    return lines


def params_range(space: NB201Space, data) -> tuple[int, int]:  # noqa: ANN001
    """Params of the smallest (all ``none``) and the largest (all conv 3x3) network."""
    return tuple(
        count_params(space.from_params(dict.fromkeys(space.distributions(), op)),
                     data.input_shape, data.num_classes)
        for op in ("none", "nor_conv_3x3")
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samplers", default="tnd,lemonade,nsga2,tpe")
    parser.add_argument("--seeds", type=int, default=3, help="search seeds 0..N-1")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds per run (default: each seed's TND-NAS wall-clock)")  # fmt: skip
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--train-size", type=int, default=20000)
    parser.add_argument("--val-size", type=int, default=2000)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--cells", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=3, help="full training of every trial")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.08)
    parser.add_argument("--settings", type=int, default=8, help="TND-NAS trade-off settings")
    parser.add_argument("--search-epochs", type=int, default=2, help="TND-NAS epochs per stage")
    parser.add_argument("--warmup-epochs", type=int, default=1)
    parser.add_argument("--samples", type=int, default=16, help="TND-NAS pool per α update")
    parser.add_argument("--weight-training", choices=["mixture", "sampled"], default="sampled")
    parser.add_argument("--n-initial", type=int, default=6)
    parser.add_argument("--error-scale", type=float, default=0.5, help="HV axis: error / this")
    parser.add_argument("--grid", type=int, default=10, help="time points in the HV table")
    parser.add_argument("--cores", default=None, help="two CPU ids (default: the first two)")
    parser.add_argument("--quick", action="store_true", help="1 seed, synthetic data: a check")
    parser.add_argument("--out", default=None)
    ns = parser.parse_args()
    if ns.quick:
        ns.seeds, ns.dataset, ns.train_size, ns.val_size, ns.test_size = (
            1,
            "synthetic",
            512,
            128,
            128,
        )
        ns.channels, ns.epochs, ns.search_epochs, ns.warmup_epochs, ns.settings = 4, 1, 1, 0, 3
        ns.error_scale = 1.0  # a 1-epoch network on 512 images has errors above 0.5
    cores = two_cores(parser, ns.cores)
    samplers = ns.samplers.split(",")
    if samplers[0] != "tnd" and ns.budget is None:
        parser.error("without --budget, tnd must come first in --samplers: its time is the budget.")
    command = "python -m benchmarks.tnd_vs_lemonade " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(ns).items()
        if k not in ("out", "quick") and v is not None
    )  # fmt: skip
    args = dict(vars(ns))
    space, data = space_of(args), data_of(args)  # also fetches the data once, before the clocks
    for name in samplers[1:]:
        make_sampler(name, space, 0, ns.n_initial)  # an unknown name fails before any run
    args["p_range"] = params_range(space, data)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="tnd-vs-") as tmp:
        first = [(samplers[0], k) for k in range(ns.seeds)]
        results = run_pairs(first, cores, args, tmp)
        args["tnd_budget"] = [results[samplers[0], k]["budget"] for k in range(ns.seeds)]
        rest = [(s, k) for k in range(ns.seeds) for s in samplers[1:]]
        results |= run_pairs(rest, cores, args, tmp)
    lines = report(args, command, samplers, ns.seeds, results, (load_before, os.getloadavg()[0]))
    emit(lines, ns.out)


if __name__ == "__main__":
    main()
