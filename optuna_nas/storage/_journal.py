"""A journal storage (Redis) with the heartbeat Optuna gives only RDB storages.

It subclasses Optuna's private ``BaseHeartbeat``, so it lives in the contract.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import optuna
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.trial import FrozenTrial, TrialState

from optuna_nas.storage import keys


class HeartbeatJournalStorage(optuna.storages.JournalStorage, BaseHeartbeat):
    """A journal storage with the heartbeat Optuna gives only RDB storages.

    Each beat appends the trial system attr :data:`~optuna_nas.storage.keys.HEARTBEAT`
    to the journal. A process that watches (:func:`optuna.storages.fail_stale_trials`)
    remembers when, on its own monotonic clock, it first saw each running trial's
    latest beat; the trial is stale when that beat has not changed for
    ``grace_period`` seconds. So a
    watcher that has just started waits a full grace period before it fails anything,
    and machines with skewed clocks never fail each other's live trials. A running
    trial that never beat (one run by a process without a heartbeat) is never stale,
    as on RDB storages.
    """

    def __init__(
        self,
        log_storage: optuna.storages.journal.BaseJournalBackend,
        *,
        heartbeat_interval: int = 60,
        grace_period: int | None = None,
        heartbeat_stale_trial_callback: Callable[[optuna.Study, FrozenTrial], None] | None = None,
    ) -> None:
        if heartbeat_interval <= 0:
            raise ValueError(f"heartbeat_interval must be > 0, got {heartbeat_interval}.")
        super().__init__(log_storage)
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = 2 * heartbeat_interval if grace_period is None else grace_period
        self.heartbeat_stale_trial_callback = heartbeat_stale_trial_callback
        self._seen: dict[int, tuple[object, float]] = {}  # trial id -> (beat, first seen)

    def record_heartbeat(self, trial_id: int) -> None:
        # A trial another worker failed meanwhile has nothing left to keep alive.
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
            self.set_trial_system_attr(trial_id, keys.HEARTBEAT, time.time())

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        now, seen, stale = time.monotonic(), {}, []
        for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            beat = trial.system_attrs.get(keys.HEARTBEAT)
            if beat is None:
                continue
            old = self._seen.get(trial._trial_id)
            seen[trial._trial_id] = old if old is not None and old[0] == beat else (beat, now)
            if now - seen[trial._trial_id][1] > self.grace_period:
                stale.append(trial._trial_id)
        self._seen = seen  # finished trials are forgotten
        return stale

    def get_heartbeat_interval(self) -> int | None:
        return self.heartbeat_interval

    def get_heartbeat_stale_trial_callback(
        self,
    ) -> Callable[[optuna.Study, FrozenTrial], None] | None:
        return self.heartbeat_stale_trial_callback
