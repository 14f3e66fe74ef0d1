"""Where final trainings live in storage: the companion study and its trials.

A study ``S`` has its final trainings in the study ``S:final`` of the same storage.
Each of its trials is one model trained from scratch with the final recipe; the
user attr ``source_trial`` names the trial of ``S`` whose architecture it trained.
This module reads and names those records; it trains nothing.
"""

from __future__ import annotations

import json
import os
import socket

import optuna
from optuna.trial import FrozenTrial, TrialState

from optuna_nas.storage import fail_trial, keys, study_in_same_storage, trial_id
from optuna_nas.training import TrainConfig

_ACTIVE: set[int] = set()
"""Companion trial ids this process is training right now."""


def final_study_name(study_name: str) -> str:
    """The companion study's name for the search study ``study_name``."""
    return f"{study_name}{keys.FINAL_SUFFIX}"


def recipe_json(config: TrainConfig) -> str:
    """The recipe as stored in ``recipe``: every field but the device, keys sorted.

    The device is left out so that a retrain resumed on another machine (``auto``
    meaning a GPU there) recognises the models already trained with the same recipe.
    """
    recipe = {k: v for k, v in config.to_dict().items() if k != "device"}
    return json.dumps(recipe, sort_keys=True)


def load_final_study(study: optuna.Study) -> optuna.Study | None:
    """The companion study of ``study`` if it exists (nothing is created)."""
    return study_in_same_storage(study, final_study_name(study.study_name))


def final_records(study: optuna.Study) -> dict[int, FrozenTrial]:
    """The latest COMPLETE final training of each retrained trial of ``study``.

    Returns
    -------
    dict[int, FrozenTrial]
        Search-trial number -> companion trial; empty if nothing was retrained.
    """
    final = load_final_study(study)
    if final is None:
        return {}
    records: dict[int, FrozenTrial] = {}
    for trial in final.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        source = trial.user_attrs.get(keys.SOURCE_TRIAL)
        if source is not None and (source not in records or trial.number > records[source].number):
            records[int(source)] = trial
    return records


def finished_record(
    final: optuna.Study, source: int, recipe: str, train_images: int, test_images: int
) -> FrozenTrial | None:
    """A COMPLETE companion trial of ``source`` with this recipe on this much data."""
    for trial in reversed(final.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))):
        attrs = trial.user_attrs
        if (attrs.get(keys.SOURCE_TRIAL), attrs.get(keys.RECIPE)) == (source, recipe) and (
            attrs.get("train_images"),
            attrs.get("test_images"),
        ) == (train_images, test_images):
            return trial
    return None


def owner() -> dict[str, object]:
    """System attrs that name this process as the trainer of a RUNNING trial."""
    return {keys.RETRAIN_PID: os.getpid(), keys.RETRAIN_HOST: socket.gethostname()}


def claim(trial_id: int) -> None:
    """Note that this process trains the RUNNING companion trial ``trial_id``."""
    _ACTIVE.add(trial_id)


def release(trial_id: int) -> None:
    """Note that this process no longer trains ``trial_id`` (it finished or failed)."""
    _ACTIVE.discard(trial_id)


def fail_stale(final: optuna.Study) -> list[int]:
    """Mark RUNNING companion trials FAIL whose retrain process is gone.

    A retrain writes its host name and process id into each trial it runs
    (:func:`owner`), and ends it as FAIL itself when interrupted; only a killed
    process leaves a trial RUNNING. Such a trial is stale when it was started on
    this host and its process no longer exists (or is this process, which is not
    training it). Trials from other hosts cannot be checked from here and are left
    alone; a retrain run on their host cleans them up.

    Returns
    -------
    list[int]
        Numbers of the trials marked FAIL.
    """
    failed = []
    for trial in final.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if _process_gone(trial):
            fail_trial(final, trial_id(trial), "its retrain process ended before it finished")
            failed.append(trial.number)
    return failed


def running_elsewhere(final: optuna.Study, source: int) -> FrozenTrial | None:
    """A RUNNING companion trial of ``source`` that another live process trains."""
    for trial in final.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.user_attrs.get(keys.SOURCE_TRIAL) == source and trial_id(trial) not in _ACTIVE:
            return trial
    return None


def _process_gone(trial: FrozenTrial) -> bool:
    host, pid = trial.system_attrs.get(keys.RETRAIN_HOST), trial.system_attrs.get(keys.RETRAIN_PID)
    if pid is None or host != socket.gethostname() or os.name == "nt":  # cannot tell
        return False
    if pid == os.getpid():
        return trial_id(trial) not in _ACTIVE
    try:
        os.kill(int(pid), 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, another user's
        return False
    return False
