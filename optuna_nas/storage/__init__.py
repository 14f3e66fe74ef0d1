"""The storage contract: what optuna-nas keeps in Optuna storage, and how it gets there.

Every worker, a restarted process and the dashboard rebuild the search from storage
alone. :mod:`optuna_nas.storage.keys` names every attr written there (and the trial
record every writer of trials shares); the functions below are the only code that
reaches past Optuna's public API into the storage (a sampler writing a running
trial's system attrs, a worker popping a queued trial), and
:class:`HeartbeatJournalStorage` gives a journal storage (Redis) the heartbeat that
Optuna gives only RDB storages, so a killed worker's trial is failed and retried.
"""

from optuna_nas.storage import keys
from optuna_nas.storage._access import (
    CLAIMING_STATES,
    cached_trials,
    claim_fingerprint,
    complete_trial,
    create_running_trial,
    enqueued_params,
    fail_trial,
    fresh_system_attrs,
    heartbeat_interval,
    read_trial,
    record_heartbeat,
    start_waiting_trial,
    storage_of,
    study_id,
    study_in_same_storage,
    study_key,
    study_system_attrs,
    trial_by_number,
    trial_id,
    write_lineage,
    write_study_system_attr,
    write_trial_system_attr,
)
from optuna_nas.storage._journal import HeartbeatJournalStorage

__all__ = [
    "CLAIMING_STATES",
    "HeartbeatJournalStorage",
    "cached_trials",
    "claim_fingerprint",
    "complete_trial",
    "create_running_trial",
    "enqueued_params",
    "fail_trial",
    "fresh_system_attrs",
    "heartbeat_interval",
    "keys",
    "read_trial",
    "record_heartbeat",
    "start_waiting_trial",
    "storage_of",
    "study_id",
    "study_in_same_storage",
    "study_key",
    "study_system_attrs",
    "trial_by_number",
    "trial_id",
    "write_lineage",
    "write_study_system_attr",
    "write_trial_system_attr",
]
