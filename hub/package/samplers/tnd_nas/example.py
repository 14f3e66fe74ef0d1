"""TND-NAS from OptunaHub: a supernet search, then a second worker drawing from its α.

``TNDSearch`` trains a weight-sharing NAS-Bench-201 supernet on optuna-nas's
``synthetic`` dataset (generated in memory, nothing to download), moves α by REINFORCE
on rewards mixing accuracy and parameter count, shrinks the space, and trains each
trade-off setting's architecture from scratch. It all lands in the study, where
``TNDSampler`` reads α: a worker with any objective then samples from what was learned.

Run: python example.py [--n-trials 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path
import tempfile
import types

import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import FrozenTrial
from optuna.trial import TrialState
import optunahub

import optuna_nas
from optuna_nas.storage import keys


def load_package() -> types.ModuleType:
    here = Path(__file__).resolve().parent
    # Inside a registry checkout (optunahub-registry, or optuna-nas's hub/package) run the
    # package beside this file, so a change to it runs before it is published.
    if (here / "__init__.py").exists():
        return optunahub.load_local_module("samplers/tnd_nas", registry_root=str(here.parents[1]))
    return optunahub.load_module("samplers/tnd_nas")


def result(trial: FrozenTrial) -> str:
    if trial.state != TrialState.COMPLETE:
        return trial.state.name
    return f"error {trial.values[0]:.3f}, {trial.values[1]:.0f} params"


def main() -> None:
    parser = argparse.ArgumentParser(description="TND-NAS from OptunaHub on synthetic images.")
    parser.add_argument("--n-trials", type=int, default=2, help="trials of the second worker")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    hub = load_package()
    space = hub.NB201Space(channels=4, cells=1)  # TND-NAS searches one fixed skeleton
    data = optuna_nas.load_data("synthetic", train_size=512, val_size=128, test_size=128)
    config = optuna_nas.TrainConfig(epochs=1, batch_size=64, lr=0.05)
    storage = optuna.storages.InMemoryStorage()
    study = optuna_nas.create_study(["error", "params"], storage=storage, study_name="tnd")
    settings = hub.trade_off_ladder(space, "params", 2, input_shape=data.input_shape)
    with tempfile.TemporaryDirectory() as artifacts:
        search = hub.TNDSearch(
            study,
            space,
            data,
            settings,
            search_config=config,
            train_config=config,
            shrink_to=(2,),
            samples_per_update=4,
            updates_per_epoch=2,
            reward_batch_size=64,
            warmup_epochs=0,
            artifact_store=FileSystemArtifactStore(artifacts),
        )
        derived = search.run()
    for trial in derived:
        setting = ", ".join(trial.user_attrs[keys.TND_SETTINGS])
        print(f"derived for {setting}: {result(trial)}, {trial.user_attrs[keys.ARCH_STR]}")

    # A second worker (here in the same process; on a shared storage, any machine) draws
    # from the learned α of the shrunk space and trains what it draws like any trial.
    worker = optuna.load_study(
        study_name="tnd", storage=storage, sampler=hub.TNDSampler(space, seed=1)
    )
    objective = optuna_nas.NASObjective(space, data, ["error", "params"], config, False)
    worker.optimize(objective, n_trials=args.n_trials)
    for trial in worker.trials[-args.n_trials :]:
        setting = trial.system_attrs[keys.TND_SETTING]
        print(f"worker trial {trial.number}, drawn from the α of {setting}: {result(trial)}")


if __name__ == "__main__":
    main()
