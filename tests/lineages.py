"""Helpers for tests of warm-started searches: studies whose trials trained for different lineages."""

from __future__ import annotations

import optuna

from optuna_nas import Architecture, NB201Space
from optuna_nas.objectives import count_params
from optuna_nas.storage import keys

SHAPE = (1, 28, 28)


def uniform_cell(channels: int, op: str) -> Architecture:
    """A one-cell NB201 network with ``op`` on every edge."""
    return Architecture("nb201", [[(op, 0)], [(op, 0), (op, 1)], [(op, 0), (op, 1), (op, 2)]],
                        None, channels, 1)  # fmt: skip


def add_lineage_trials(study: optuna.Study, space: NB201Space, rows) -> None:
    """Completed trials ``(arch, error, lineage_epochs)`` as warm starts leave them (inheriting)."""
    for arch, error, lineage in rows:
        study.add_trial(optuna.trial.create_trial(
            params=space.to_params(arch), distributions=space.distributions(),
            values=[error, count_params(arch, SHAPE)],
            user_attrs={keys.EPOCHS: 2, keys.LINEAGE_EPOCHS: lineage},
        ))  # fmt: skip
    study.set_user_attr(keys.STUDY_INHERITS, True)
