import optuna
import pytest

from benchmarks import lemonade_decisions
from optuna_nas import NB201Space
from optuna_nas.encoding import Architecture
from optuna_nas.objectives import count_params
from optuna_nas.storage import keys


def _uniform(channels, op):
    return Architecture("nb201", [[(op, 0)], [(op, 0), (op, 1)], [(op, 0), (op, 1), (op, 2)]],
                        None, channels, 1)  # fmt: skip


def _searched_study(storage):
    space = NB201Space(channels=(8, 16), cells=(1,))
    study = optuna.create_study(storage=storage, directions=["minimize", "minimize"])
    study.set_metric_names(["error", "params"])
    study.set_user_attr(keys.SEARCH_SETTINGS, {"space": "nb201", "channels": [8, 16],
                                               "cells": [1], "nodes": 4, "n_initial": 4})  # fmt: skip
    study.set_user_attr(keys.STUDY_INPUT_SHAPE, [1, 28, 28])
    study.set_user_attr(keys.STUDY_INHERITS, True)
    rows = [(_uniform(8, "skip_connect"), 0.12, 2), (_uniform(8, "nor_conv_1x1"), 0.10, 2),
            (_uniform(16, "nor_conv_1x1"), 0.08, 6), (_uniform(8, "avg_pool_3x3"), 0.14, 2),
            (_uniform(8, "nor_conv_3x3"), 0.09, 4)]  # fmt: skip
    for arch, error, lineage in rows:
        study.add_trial(optuna.trial.create_trial(
            params=space.to_params(arch), distributions=space.distributions(),
            values=[error, count_params(arch, (1, 28, 28))],
            user_attrs={keys.EPOCHS: 2, keys.LINEAGE_EPOCHS: lineage},
        ))  # fmt: skip
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
