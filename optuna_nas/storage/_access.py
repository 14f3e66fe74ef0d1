"""The only module that touches Optuna's private storage API.

Optuna's public API reads and writes a study through ``Study`` and ``Trial``
objects; a sampler, which gets a ``FrozenTrial`` of a running trial, and a worker,
which runs trials it did not create, must reach the storage underneath
(``study._storage``, ``trial._trial_id``, ``study._study_id``). Each such touch is
one small function here, so an Optuna release that moves them breaks one file.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.storages._heartbeat import BaseHeartbeat, is_heartbeat_enabled
from optuna.trial import FrozenTrial, TrialState

from optuna_nas.storage import keys

CLAIMING_STATES = (TrialState.RUNNING, TrialState.WAITING, TrialState.COMPLETE, TrialState.PRUNED)
"""Trials whose claimed fingerprint counts (a FAIL trial's claim lapses for its retry)."""


# ---------------------------------------------------------------- identities
def storage_of(study: optuna.Study) -> BaseStorage:
    """The storage ``study`` lives in (to open another study there)."""
    return study._storage


def study_id(study: optuna.Study) -> int:
    """The study's id in its storage (the dashboard's URLs use it)."""
    return study._study_id


def study_key(study: optuna.Study) -> tuple[int, int]:
    """Tells studies apart within one process: the storage object and the study id."""
    return id(study._storage), study._study_id


def trial_id(trial: FrozenTrial | optuna.Trial) -> int:
    """The trial's id in its storage: unique across studies, stable for the trial's life."""
    return trial._trial_id


# ---------------------------------------------------------------- reading
def cached_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Every trial of ``study``, shared (not copied) and from the storage's cache.

    What a sampler reads once per call; the trials must not be modified.
    """
    return study._get_trials(deepcopy=False, use_cache=True)


def trial_by_number(study: optuna.Study, number: int) -> FrozenTrial:
    """A trial of ``study`` by its number, read from storage."""
    storage = study._storage
    return storage.get_trial(
        storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
    )


def fresh_system_attrs(trial: optuna.Trial) -> dict[str, Any]:
    """A running trial's system attrs as storage holds them now.

    Optuna caches ``trial.system_attrs`` when the trial starts, so attrs a sampler
    wrote during ``sample_relative`` are only visible in storage.
    """
    return trial.study._storage.get_trial_system_attrs(trial._trial_id)


def enqueued_params(trial: optuna.Trial) -> dict[str, Any]:
    """The params ``study.enqueue_trial`` fixed for ``trial`` (empty if none)."""
    return fresh_system_attrs(trial).get(keys.FIXED_PARAMS) or {}


def study_system_attrs(study: optuna.Study) -> dict[str, Any]:
    """The study's system attrs as storage holds them now (not a cached copy)."""
    return study._storage.get_study_system_attrs(study._study_id)


def study_in_same_storage(study: optuna.Study, name: str) -> optuna.Study | None:
    """The study called ``name`` in the storage of ``study``, if it exists (none is created)."""
    try:
        study._storage.get_study_id_from_name(name)
    except KeyError:
        return None
    return optuna.load_study(study_name=name, storage=study._storage)


# ---------------------------------------------------------------- writing
def write_trial_system_attr(study: optuna.Study, trial: FrozenTrial, key: str, value: Any) -> None:
    """Set a system attr of a running ``trial`` of ``study`` (a sampler's ``FrozenTrial``)."""
    study._storage.set_trial_system_attr(trial._trial_id, key, value)


def write_lineage(
    study: optuna.Study, trial: FrozenTrial, parent: int, operator: str, distill: bool
) -> None:
    """Name the parent whose weights ``trial`` starts from, the operator(s), and whether to distil.

    ``NASObjective`` reads them (:data:`~keys.PARENT_TRIAL`, :data:`~keys.OPERATOR`,
    :data:`~keys.DISTILL`) when the trial runs.
    """
    storage = study._storage
    storage.set_trial_system_attr(trial._trial_id, keys.PARENT_TRIAL, parent)
    storage.set_trial_system_attr(trial._trial_id, keys.OPERATOR, operator)
    storage.set_trial_system_attr(trial._trial_id, keys.DISTILL, distill)


def claim_fingerprint(study: optuna.Study, trial: FrozenTrial, fingerprint: str) -> bool:
    """Write ``trial``'s claim on ``fingerprint``, then ``False`` if another live trial holds it.

    The claim is written first and the live trials (:data:`CLAIMING_STATES`) re-read
    afterwards: of two workers that claim one fingerprint at once, at least the later
    reader sees the other's claim.
    """
    storage = study._storage
    storage.set_trial_system_attr(trial._trial_id, keys.CLAIM, fingerprint)
    for other in storage.get_all_trials(study._study_id, deepcopy=False, states=CLAIMING_STATES):
        if other._trial_id != trial._trial_id and other.system_attrs.get(keys.CLAIM) == fingerprint:
            return False
    return True


def write_study_system_attr(study: optuna.Study, key: str, value: Any) -> None:
    """Set a study system attr through the storage, visible to every worker at once."""
    study._storage.set_study_system_attr(study._study_id, key, value)


def create_running_trial(study: optuna.Study, template: FrozenTrial) -> int:
    """A new RUNNING trial of ``study`` copied from ``template``; its trial id."""
    return study._storage.create_new_trial(study._study_id, template_trial=template)


def start_waiting_trial(study: optuna.Study, trial: FrozenTrial) -> bool:
    """Move a WAITING trial to RUNNING; ``True`` for the one process that wins the race.

    Raises ``optuna.exceptions.UpdateFinishedTrialError`` if it finished meanwhile.
    """
    return study._storage.set_trial_state_values(trial._trial_id, state=TrialState.RUNNING)


def complete_trial(study: optuna.Study, trial_id: int, values: list[float]) -> None:
    """Mark trial ``trial_id`` of ``study`` COMPLETE with ``values``."""
    study._storage.set_trial_state_values(trial_id, TrialState.COMPLETE, values)


def fail_trial(study: optuna.Study, trial_id: int, reason: str) -> None:
    """Mark trial ``trial_id`` of ``study`` FAIL, its first line of ``reason`` in ``fail_reason``."""
    study._storage.set_trial_user_attr(trial_id, keys.FAIL_REASON, reason.splitlines()[0][:500])
    study._storage.set_trial_state_values(trial_id, TrialState.FAIL)


def read_trial(study: optuna.Study, trial_id: int) -> FrozenTrial:
    """Trial ``trial_id`` of ``study`` as storage holds it now."""
    return study._storage.get_trial(trial_id)


# ---------------------------------------------------------------- heartbeat
def heartbeat_interval(study: optuna.Study) -> int | None:
    """Seconds between heartbeats of the study's storage; ``None`` without a heartbeat."""
    storage = study._storage
    if not is_heartbeat_enabled(storage):
        return None
    assert isinstance(storage, BaseHeartbeat)
    return storage.get_heartbeat_interval() or 60


def record_heartbeat(study: optuna.Study, trial_id: int) -> None:
    """Tell the storage that running trial ``trial_id`` is alive."""
    storage = study._storage
    assert isinstance(storage, BaseHeartbeat)
    storage.record_heartbeat(trial_id)
