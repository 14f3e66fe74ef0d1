"""A real LEMONADE search (synthetic images, 1 epoch) for the report's tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest
from optuna.artifacts import FileSystemArtifactStore

from optuna_nas import NASObjective, NB201Space, TrainConfig, create_study
from optuna_nas.data import load_data
from optuna_nas.lemonade import LemonadeSampler
from optuna_nas.workers import queue_trials, run_worker

TRAIN_SIZE = 200


@dataclass(frozen=True)
class Search:
    study: optuna.Study
    store: FileSystemArtifactStore
    root: Path


@pytest.fixture(scope="session")
def lemonade_search(tmp_path_factory) -> Search:
    """Two random trials, then LEMONADE's children of them, in SQLite with their weights."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    root = tmp_path_factory.mktemp("report-search")
    space = NB201Space(channels=4, cells=1)
    data = load_data("synthetic", train_size=TRAIN_SIZE, val_size=100, test_size=100)
    store = FileSystemArtifactStore(str(root))
    sampler = LemonadeSampler(space, n_initial=2, seed=0)
    study = create_study(["error", "params"], storage=f"sqlite:///{root}/study.db",
                         study_name="report", sampler=sampler)  # fmt: skip
    queue_trials(study, 4)
    run_worker(study, NASObjective(space, data, ["error", "params"],
                                   TrainConfig(epochs=1, batch_size=64), store))  # fmt: skip
    return Search(study, store, root)
