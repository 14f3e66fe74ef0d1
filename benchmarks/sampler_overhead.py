"""Time a sampler adds per trial, at 100 / 1,000 / 5,000 completed trials.

Run: ``python -m benchmarks.sampler_overhead [--sizes 100,1000,5000] [--asks 5] [--out FILE]``

Each study is filled with completed NB201 trials (error from the NAS-Bench-201 table,
cost = model_size), then ``study.ask()`` (which runs the sampler and suggests the six params) is timed for a
fresh sampler that must rebuild everything from storage, and again warm.
"""

from __future__ import annotations

import argparse
import datetime
import time

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import create_trial

from benchmarks._report import emit, machine
from benchmarks.nb201_table import NB201Table
from optuna_nas import NB201Space
from optuna_nas.lemonade import LemonadeSampler

SAMPLERS = {
    "LemonadeSampler": lambda table: LemonadeSampler(
        table.space, cheap_objectives={"model_size": table.cost}, seed=0
    ),
    "LemonadeSampler(acceptance='density')": lambda table: LemonadeSampler(
        table.space, cheap_objectives={"model_size": table.cost}, seed=0, acceptance="density"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--asks", type=int, default=5)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    table = NB201Table("cifar10", "model_size", seed=0)
    sizes = [int(s) for s in args.sizes.split(",")]
    lines = [
        "# Sampler overhead per trial (in-memory storage, NB201 space, 2 objectives)",
        "",
        f"- command: `python -m benchmarks.sampler_overhead --sizes {args.sizes} --asks {args.asks}`",
        f"- machine: {machine()}; date: {datetime.date.today().isoformat()}",
        "- first ask: a fresh sampler rebuilding its state from storage; warm: mean of the "
        f"next {args.asks - 1} asks",
        "",
        "| sampler | completed trials | first ask (ms) | warm ask (ms) |",
        "|---|---|---|---|",
    ]
    for name, factory in SAMPLERS.items():
        for n in sizes:
            study = filled_study(table, n, factory(table))
            times = []
            for _ in range(args.asks):
                start = time.perf_counter()
                trial = study.ask(table.space.distributions())
                times.append(time.perf_counter() - start)
                NB201Space().from_params(trial.params)  # the params decode to an architecture
                study.tell(trial, [0.5, 1.0])
            warm = np.mean(times[1:]) if len(times) > 1 else float("nan")
            lines.append(f"| {name} | {n} | {1000 * times[0]:.1f} | {1000 * warm:.1f} |")
            print(lines[-1], flush=True)
    emit(lines, args.out)


if __name__ == "__main__":
    main()
