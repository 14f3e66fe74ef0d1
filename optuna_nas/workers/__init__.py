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

The worker processes can be tasks of a Ray cluster (:func:`run_on_ray`, one GPU
each), or processes on this machine that :func:`place_workers` spreads over its GPUs.
"""

from optuna_nas.workers._placement import (
    MAX_TRIALS_PER_GPU,
    Placement,
    device_label,
    gpus_per_task,
    place_workers,
    visible_gpus,
)
from optuna_nas.workers._queue import WORKER, queue_trials, run_worker
from optuna_nas.workers._ray import check_ray_address, connect_ray, run_on_ray
from optuna_nas.workers._storage import hide_password, storage_from_url

__all__ = [
    "MAX_TRIALS_PER_GPU",
    "WORKER",
    "Placement",
    "check_ray_address",
    "connect_ray",
    "device_label",
    "gpus_per_task",
    "hide_password",
    "place_workers",
    "queue_trials",
    "run_on_ray",
    "run_worker",
    "storage_from_url",
    "visible_gpus",
]
