"""Shared studies: storage URLs with a heartbeat, and workers that share a trial budget.

Examples
--------
One process opens the study and queues the budget; any number of processes (here
or on other machines) then run it::

    storage = storage_from_url("postgresql://user@db-host/nas")     # doctest: +SKIP
    study = optuna_nas.create_study(["error", "params"], storage=storage,
                                    study_name="nb201", sampler=LemonadeSampler(space))
    queue_trials(study, 200)          # once, in one process
    run_worker(study, objective)      # in every worker process
"""

from optuna_nas.workers._queue import WORKER, queue_trials, run_worker
from optuna_nas.workers._storage import hide_password, storage_from_url

__all__ = ["WORKER", "hide_password", "queue_trials", "run_worker", "storage_from_url"]
