"""Time a sampler adds per trial, at 100 / 1,000 / 5,000 completed trials.

Run: ``python -m benchmarks.sampler_overhead [--sizes 100,1000,5000] [--asks 5]
[--samplers NAME,...] [--nao-trials N] [--out FILE]``

Each study is filled with completed NB201 trials (error from the NAS-Bench-201 table,
cost = model_size), then ``study.ask()`` (which runs the sampler and suggests the six
params) is timed for a fresh sampler that must rebuild everything from storage, and again
warm. Every (sampler, size) runs in a new process, so the first ask also starts with
empty process-wide caches (canonical forms, features): what a restarted worker sees.

``NAOSampler`` refits its model after max(5, 10 %) newly completed trials, so its warm
ask is the mean over ``max(asks - 1, size / 10)`` asks (``--nao-trials`` overrides):
the refits amortised plus the proposals, its time per trial.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import time

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import create_trial

from benchmarks._report import emit, machine
from benchmarks.nb201_table import NB201Table
from optuna_nas import NB201Space
from optuna_nas.lemonade import LemonadeSampler
from optuna_nas.nao import NAOSampler

SAMPLERS = {
    "LemonadeSampler": lambda table: LemonadeSampler(
        table.space, cheap_objectives={"model_size": table.cost}, seed=0
    ),
    "LemonadeSampler(acceptance='density')": lambda table: LemonadeSampler(
        table.space, cheap_objectives={"model_size": table.cost}, seed=0, acceptance="density"
    ),
    "NAOSampler": lambda table: NAOSampler(
        table.space, cheap_objectives={"model_size": table.cost}, seed=0, device="cpu"
    ),
    "NSGAIISampler": lambda table: optuna.samplers.NSGAIISampler(seed=0),
}


def filled_study(table: NB201Table, n: int, sampler: optuna.samplers.BaseSampler) -> optuna.Study:
    space = table.space
    dists = {k: CategoricalDistribution(v.choices) for k, v in space.distributions().items()}
    rng = np.random.default_rng(0)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.set_metric_names(["error", "model_size"])
    trials = []
    for _ in range(n):
        arch = space.sample(rng)
        trials.append(create_trial(params=space.to_params(arch), distributions=dists,
                                   values=list(table.evaluate(arch))))  # fmt: skip
    study.add_trials(trials)
    return study


def measure(task: tuple[str, int, int]) -> tuple[float, float, float]:
    """``(first ask, mean warm ask, mean warm CPU time)`` in seconds, in this process."""
    name, n, asks = task
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    table = NB201Table("cifar10", "model_size", seed=0)
    study = filled_study(table, n, SAMPLERS[name](table))
    times, cpu = [], []
    for _ in range(asks):
        start, start_cpu = time.perf_counter(), time.process_time()
        trial = study.ask(table.space.distributions())
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        NB201Space().from_params(trial.params)  # the params decode to an architecture
        study.tell(trial, [0.5, 1.0])
    warm = float(np.mean(times[1:])) if len(times) > 1 else float("nan")
    warm_cpu = float(np.mean(cpu[1:])) if len(cpu) > 1 else float("nan")
    return times[0], warm, warm_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--asks", type=int, default=5)
    parser.add_argument("--samplers", default=",".join(SAMPLERS), help="comma-separated names")
    parser.add_argument("--nao-trials", type=int, default=None, help="NAOSampler's warm asks")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    names = args.samplers.split(",")
    unknown = [n for n in names if n not in SAMPLERS]
    if unknown:
        parser.error(f"unknown samplers {unknown}; known: {list(SAMPLERS)}")
    command = f"python -m benchmarks.sampler_overhead --sizes {args.sizes} --asks {args.asks}"
    if names != list(SAMPLERS):
        command += f" --samplers {args.samplers!r}"
    if args.nao_trials is not None:
        command += f" --nao-trials {args.nao_trials}"
    lines = [
        "# Sampler overhead per trial (in-memory storage, NB201 space, 2 objectives)",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}; date: {datetime.date.today().isoformat()}",
        "- first ask: a fresh sampler in a new process rebuilding its state from storage; "
        f"warm: mean of the next {args.asks - 1} asks (NAOSampler: of the next "
        "max(asks - 1, N / 10), its refits amortised), wall clock and the process's CPU time",
        "",
        "| sampler | completed trials | first ask (ms) | warm ask (ms) | warm ask, CPU (ms) |",
        "|---|---|---|---|---|",
    ]
    # A new process per row: the first ask must not find caches an earlier row filled.
    context = multiprocessing.get_context("spawn")
    with context.Pool(1, maxtasksperchild=1) as pool:
        for name in names:
            for n in sizes:
                asks = args.asks
                if name == "NAOSampler":
                    asks = 1 + (args.nao_trials or max(args.asks - 1, n // 10))
                first, warm, cpu = pool.apply(measure, ((name, n, asks),))
                lines.append(
                    f"| {name} | {n} | {1000 * first:.1f} | {1000 * warm:.1f} | {1000 * cpu:.1f} |"
                )
                print(lines[-1], flush=True)
    emit(lines, args.out)


if __name__ == "__main__":
    main()
