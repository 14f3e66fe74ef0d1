import optuna
import pytest

from benchmarks import lemonade_decisions
from optuna_nas import NB201Space
from optuna_nas.storage import keys
from tests.lineages import add_lineage_trials, uniform_cell


def _searched_study(storage):
    space = NB201Space(channels=(8, 16), cells=(1,))
    study = optuna.create_study(storage=storage, directions=["minimize", "minimize"])
    study.set_metric_names(["error", "params"])
    study.set_user_attr(keys.SEARCH_SETTINGS, {"space": "nb201", "channels": [8, 16],
                                               "cells": [1], "nodes": 4, "n_initial": 4})  # fmt: skip
    study.set_user_attr(keys.STUDY_INPUT_SHAPE, [1, 28, 28])
    rows = [(uniform_cell(8, "skip_connect"), 0.12, 2), (uniform_cell(8, "nor_conv_1x1"), 0.10, 2),
            (uniform_cell(16, "nor_conv_1x1"), 0.08, 6), (uniform_cell(8, "avg_pool_3x3"), 0.14, 2),
            (uniform_cell(8, "nor_conv_3x3"), 0.09, 4)]  # fmt: skip
    add_lineage_trials(study, space, rows)
    return study


def test_each_row_replays_the_asks_on_the_first_trials(tmp_path):
    storage = f"sqlite:///{tmp_path / 's.db'}"
    _searched_study(storage)
    out = tmp_path / "decisions.md"
    assert lemonade_decisions.main(["--storage", storage, "--at", "4,5", "--seeds", "2",
                                    "--out", str(out)]) == 0  # fmt: skip
    rows = [line for line in out.read_text().splitlines() if line.startswith("| 4 ") or
            line.startswith("| 5 ")]  # fmt: skip
    assert len(rows) == 2
    # The front's largest network is trial 2 (16 channels) at both sizes, and every ask
    # names a parent among the trials it saw.
    assert all(row.split("|")[2].strip().startswith("2 (") for row in rows)
    assert int(rows[0].split("|")[3]) + int(rows[1].split("|")[3]) <= 4


def test_a_study_not_made_by_optuna_nas_search_is_named(tmp_path):
    storage = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(storage=storage, directions=["minimize", "minimize"])
    study.add_trial(optuna.trial.create_trial(values=[0.1, 1.0]))
    with pytest.raises(SystemExit, match="not made by 'optuna-nas search'"):
        lemonade_decisions.main(["--storage", storage, "--at", "1", "--seeds", "1"])
