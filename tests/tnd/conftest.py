"""One small real TND-NAS run on SQLite, shared by the tests that inspect its storage."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest
from optuna.artifacts import FileSystemArtifactStore

from optuna_nas import NB201Space, TrainConfig, create_study
from optuna_nas.data import ImageData, load_data
from optuna_nas.tnd import Reinforce, TNDSearch, trade_off_ladder

optuna.logging.set_verbosity(optuna.logging.WARNING)

SEARCH = TrainConfig(epochs=1, batch_size=64, lr=0.05)
FINAL = TrainConfig(epochs=1, batch_size=64, lr=0.05)


@dataclass
class Run:
    storage: str
    study_name: str
    artifacts: Path
    space: NB201Space
    data: ImageData
    search: TNDSearch
    final: list


@pytest.fixture(scope="session")
def tiny_data() -> ImageData:
    return load_data("synthetic", train_size=384, val_size=128, test_size=128)


def tiny_search(study, space, data, artifacts, **kwargs) -> TNDSearch:
    options = dict(search_config=SEARCH, train_config=FINAL, updates_per_epoch=3, samples_per_update=6,
                   reward_batch_size=64, warmup_epochs=0, reinforce=Reinforce(lr=2.0),
                   artifact_store=FileSystemArtifactStore(str(artifacts)))  # fmt: skip
    options.update(kwargs)
    return TNDSearch(study, space, data, **options)


@pytest.fixture(scope="session")
def nb201_run(tmp_path_factory, tiny_data) -> Run:
    """A whole NB201 run: 3 stages (5 -> 3 -> 2 ops per edge), 3 settings, final training.

    The study's metrics are in the order (params, error), so value order is tested too.
    """
    root = tmp_path_factory.mktemp("tnd")
    storage = f"sqlite:///{root}/study.db"
    (root / "artifacts").mkdir()
    space = NB201Space(channels=4, cells=1)
    study = create_study(["params", "error"], storage=storage, study_name="tnd")
    settings = trade_off_ladder(space, "params", 3, input_shape=tiny_data.input_shape)
    search = tiny_search(study, space, tiny_data, root / "artifacts", trade_offs=settings)
    final = search.run()
    return Run(storage, "tnd", root / "artifacts", space, tiny_data, search, final)
