"""A trial budget that any number of workers share: queued trials, popped one at a time.

``study.optimize(n_trials=k)`` in N processes runs N·k trials, and Optuna's
``MaxTrialsCallback`` overshoots when workers finish together. Here the budget is
a queue of WAITING trials in storage: one process queues them
(:func:`queue_trials`), every worker pops one at a time (a storage-level
compare-and-set, so no trial runs twice) and none creates trials of its own. A
trial whose worker dies becomes FAIL through the storage heartbeat and a copy of
it (same params and lineage) joins the queue, so the budget holds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable, Sequence

import optuna
from optuna.storages import fail_stale_trials
from optuna.trial import FrozenTrial, TrialState

import optuna_nas.storage as nas_storage
from optuna_nas.storage.keys import FAIL_REASON, WORKER

_logger = logging.getLogger(__name__)

_COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)


def queue_trials(study: optuna.Study, n_trials: int) -> int:
    """Queue trials until the study holds ``n_trials`` that are finished, running or queued.

    FAIL trials do not count, so resuming a study refills the trials that failed.
    Call it from one process: two processes queueing at once may queue twice.

    Returns
    -------
    int
        The number of trials queued now.
    """
    if n_trials < 0:
        raise ValueError(f"n_trials must be >= 0, got {n_trials}.")
    missing = n_trials - len(study.get_trials(deepcopy=False, states=_COUNTED))
    for _ in range(missing):
        study.enqueue_trial({})  # no fixed params: the study's sampler chooses them
    return max(0, missing)


def run_worker(
    study: optuna.Study,
    func: Callable[[optuna.Trial], float | Sequence[float]],
    *,
    timeout: float | None = None,
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
    catch: tuple[type[Exception], ...] = (Exception,),
    poll_interval: float = 1.0,
) -> int:
    """Run queued trials of ``study`` until none is waiting (or running, with a heartbeat).

    Like ``study.optimize`` for one trial at a time, with the same heartbeat, but it
    only takes trials from the queue (:func:`queue_trials`). While other workers'
    trials are still running on a storage with a heartbeat, it waits: if one of them
    dies, its retry is queued after the grace period and this worker runs it.

    Parameters
    ----------
    study:
        The shared study (its sampler chooses each trial's params).
    func:
        The objective, e.g. :class:`~optuna_nas.NASObjective`.
    timeout:
        Take no new trial after this many seconds.
    callbacks:
        Called as ``fn(study, frozen_trial)`` after each trial this worker finishes.
    catch:
        Exceptions of ``func`` that fail the trial and go on; others fail it and raise.
    poll_interval:
        Seconds between looks at the queue while waiting for other workers.

    Returns
    -------
    int
        The number of trials this worker ran.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    heartbeat = nas_storage.heartbeat_interval(study) is not None
    done = 0
    while deadline is None or time.monotonic() < deadline:
        if heartbeat:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                fail_stale_trials(study)  # their retries join the queue
        trial_id = _pop_waiting(study, heartbeat)
        if trial_id is None:
            if heartbeat and study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                time.sleep(poll_interval)
                continue
            break
        frozen = _run_trial(study, trial_id, func, catch)
        done += 1
        for callback in callbacks:
            callback(study, frozen)
    return done


def _pop_waiting(study: optuna.Study, heartbeat: bool = False) -> int | None:
    for trial in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        try:
            if heartbeat:
                # Beat first: a RUNNING trial without a heartbeat never goes stale, so a
                # worker killed between the pop and its first beat would leave it RUNNING
                # for good (and the other workers waiting for it).
                nas_storage.record_heartbeat(study, nas_storage.trial_id(trial))
            # Only one process wins WAITING -> RUNNING; the others get False.
            if nas_storage.start_waiting_trial(study, trial):
                return nas_storage.trial_id(trial)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


def _run_trial(
    study: optuna.Study,
    trial_id: int,
    func: Callable[[optuna.Trial], float | Sequence[float]],
    catch: tuple[type[Exception], ...],
) -> FrozenTrial:
    with _Heartbeat(study, trial_id):
        trial = optuna.Trial(study, trial_id)
        trial.set_user_attr(WORKER, f"{socket.gethostname()}:{os.getpid()}")
        values, state = None, None
        try:
            values = func(trial)
        except optuna.TrialPruned:
            state = TrialState.PRUNED
        except catch as exc:
            if nas_storage.read_trial(study, trial_id).state.is_finished():
                # A stalled worker: the heartbeat failed its trial meanwhile (its retry is
                # queued), so the objective's next write raised. Keep the FAIL, go on.
                _logger.warning("trial %d was failed by the heartbeat meanwhile", trial.number)
            else:
                _logger.warning("trial %d failed: %r", trial.number, exc.__cause__ or exc)
                trial.set_user_attr(FAIL_REASON, f"{type(exc).__name__}: {exc}"[:500])
            state = TrialState.FAIL
        except BaseException:
            with contextlib.suppress(Exception):  # the storage may be what failed
                study.tell(trial, state=TrialState.FAIL)  # Ctrl-C or a bug: record, then stop
            raise
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # NaN values: FAIL, reason in user attrs
        # A trial the heartbeat failed meanwhile (a stalled worker) keeps its FAIL state.
        return study.tell(trial, values, state=state, skip_if_finished=True)


class _Heartbeat:
    """Records a running trial's heartbeat in a thread; storage hiccups are retried."""

    def __init__(self, study: optuna.Study, trial_id: int) -> None:
        self._study, self._id = study, trial_id
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> None:
        interval = nas_storage.heartbeat_interval(self._study)
        if interval is not None:
            self._thread = threading.Thread(target=self._beat, args=(interval,), daemon=True)
            self._thread.start()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self, interval: int) -> None:
        while not self._stop.is_set():
            try:
                nas_storage.record_heartbeat(self._study, self._id)
            except Exception as exc:  # a lost connection: the next beat tries again
                reason = exc.__cause__ or exc  # Optuna wraps database errors vaguely
                _logger.warning("heartbeat of trial %d failed: %s", self._id, reason)
            self._stop.wait(interval)
