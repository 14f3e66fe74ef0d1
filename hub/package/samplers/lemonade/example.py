"""LEMONADE from OptunaHub: error vs. parameter count of networks that really train.

Each trial trains a small NAS-Bench-201-style network for one epoch on optuna-nas's
``synthetic`` dataset (generated in memory, nothing to download). After the random
phase every trial is a child of the Pareto front, warm-started from its parent's weights.

Run: python example.py [--n-trials 12]
"""

from __future__ import annotations

import argparse
from pathlib import Path
import tempfile
import types

import optuna
from optuna.artifacts import FileSystemArtifactStore
import optunahub

import optuna_nas


def load_package() -> types.ModuleType:
    here = Path(__file__).resolve().parent
    # Inside a registry checkout (optunahub-registry, or optuna-nas's hub/package) run the
    # package beside this file, so a change to it runs before it is published.
    if (here / "__init__.py").exists():
        return optunahub.load_local_module("samplers/lemonade", registry_root=str(here.parents[1]))
    return optunahub.load_module("samplers/lemonade")


def main() -> None:
    parser = argparse.ArgumentParser(description="LEMONADE from OptunaHub on synthetic images.")
    parser.add_argument("--n-trials", type=int, default=12)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    hub = load_package()
    space = hub.NB201Space(channels=(4, 8), cells=1)
    data = optuna_nas.load_data("synthetic", train_size=512, val_size=128, test_size=128)
    config = optuna_nas.TrainConfig(epochs=1, batch_size=64)
    # A child's warm start reads its parent's weights from the artifact store.
    with tempfile.TemporaryDirectory() as artifacts:
        objective = optuna_nas.NASObjective(
            space, data, ["error", "params"], config, FileSystemArtifactStore(artifacts)
        )
        sampler = hub.LemonadeSampler(space, n_initial=4, seed=0)
        study = optuna_nas.create_study(["error", "params"], sampler=sampler)
        study.optimize(objective, n_trials=args.n_trials)

    children = [t for t in study.trials if t.user_attrs.get("parent_trial") is not None]
    # Only a child that got its parent's weights records the accuracy it started from.
    warm = [t for t in children if "initial_val_accuracy" in t.user_attrs]
    print(
        f"{len(study.trials)} trials, {len(children)} of them children of the front, "
        f"{len(warm)} warm-started from their parent's weights"
    )
    print("The Pareto front (validation error, parameters):")
    for trial in sorted(study.best_trials, key=lambda t: t.values[1]):
        parent = trial.user_attrs.get("parent_trial")
        origin = (
            "random" if parent is None else f"{trial.user_attrs['operator']} of trial {parent}"
        )
        print(f"  trial {trial.number}: {trial.values[0]:.3f}, {trial.values[1]:.0f} ({origin})")


if __name__ == "__main__":
    main()
