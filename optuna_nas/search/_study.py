from __future__ import annotations

import warnings
from collections.abc import Sequence

import optuna

from optuna_nas.objectives import get_objective
from optuna_nas.workers import storage_from_url


def create_study(
    objectives: Sequence[str] = ("error", "params"),
    *,
    storage: str | optuna.storages.BaseStorage | None = None,
    sampler: optuna.samplers.BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    study_name: str | None = None,
    load_if_exists: bool = True,
) -> optuna.Study:
    """``optuna.create_study`` with directions and metric names taken from the objectives.

    Reopening an existing study (same name) checks that it has the same objectives.
    A storage URL opens with :func:`~optuna_nas.workers.storage_from_url`: RDB
    storages (``sqlite:///nas.db``, PostgreSQL, MySQL) get a heartbeat, so a trial
    whose process was killed becomes FAIL after the grace period and is run again
    by the next ``study.optimize`` on the study (a resumed script, another worker).
    Pass a storage object to choose other heartbeat settings.

    Examples
    --------
    >>> study = create_study(["error", "params"])
    >>> study.metric_names, [d.name for d in study.directions]
    (['error', 'params'], ['MINIMIZE', 'MINIMIZE'])
    """
    specs = [get_objective(name) for name in objectives]
    names = [s.name for s in specs]
    if isinstance(storage, str):
        storage = storage_from_url(storage)
    study = optuna.create_study(
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        study_name=study_name,
        directions=[s.direction for s in specs],
        load_if_exists=load_if_exists,
    )
    if study.metric_names is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(names)
    elif study.metric_names != names:
        raise ValueError(
            f"study {study.study_name!r} already exists with objectives {study.metric_names}, "
            f"not {names}; use another study name or the same objectives."
        )
    return study
