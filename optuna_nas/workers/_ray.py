"""Workers as tasks of a Ray cluster: the study's worker loop on every machine it has.

Each task runs one worker loop (:func:`~optuna_nas.workers.run_worker`) against the
study's shared storage; the storage hands out the trials, so tasks never talk to
each other and Ray only places them. With GPUs in the cluster a task asks for one
(``1 / trials_per_gpu`` to share), and Ray sets its ``CUDA_VISIBLE_DEVICES``; a
task whose process dies (SIGKILL, a lost machine) is started again by Ray, while the
storage heartbeat fails the trial it was running and queues a retry.

Ray rather than Dask: Ray's scheduler treats GPUs as a first-class resource
(``num_gpus=1`` or a fraction), hides the other GPUs from each task itself and
retries tasks whose worker process died; Dask needs custom ``resources`` tags per
worker and leaves ``CUDA_VISIBLE_DEVICES`` to whoever starts the workers.
"""

from __future__ import annotations

import logging
import math
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from optuna_nas.workers._placement import gpus_per_task

_logger = logging.getLogger(__name__)
_INSTALL = "pip install 'optuna-nas[ray]'"
_FORMS = "auto, HOST:PORT of the Ray head (what 'ray start --head' prints) or ray://HOST:PORT"
_START = (
    "start it with 'ray start --head --port=6379' on the head machine and "
    "'ray start --address=HEAD:6379' on the others"
)


def check_ray_address(text: str) -> str:
    """A Ray cluster address: ``auto``, ``HOST:PORT`` or ``ray://HOST:PORT`` (Ray Client).

    Raises
    ------
    ValueError
        For anything else, naming the accepted forms.
    """
    text = text.strip()
    if text == "auto":
        return text
    if _host_port(text) is None:
        raise ValueError(f"a Ray cluster address must be {_FORMS}, got {text!r}")
    return text


def _host_port(address: str) -> tuple[str, int] | None:
    ray_client = address.startswith("ray://")
    if "://" in address and not ray_client:
        return None  # http://, postgresql://, ...: not a Ray address
    try:
        parts = urlsplit(address if ray_client else f"//{address}")
        port = parts.port
    except ValueError:  # a port that is not a number, or out of range
        return None
    if not parts.hostname or port is None or parts.path not in ("", "/") or parts.query:
        return None
    return parts.hostname, port


def connect_ray(address: str | None = None) -> dict[str, float]:
    """Join the Ray cluster at ``address`` (``None``: start one on this machine).

    Does nothing if this process is connected already. A ``HOST:PORT`` that does not
    answer fails at once, before Ray would retry it for minutes.

    Returns
    -------
    dict[str, float]
        The cluster's resources (``CPU``, ``GPU``, ...).

    Raises
    ------
    ValueError
        Ray not installed, a malformed address, or no cluster there; the message
        names the fix.
    """
    ray = _ray()
    if ray.is_initialized():
        return ray.cluster_resources()
    target = None if address in (None, "auto") else _host_port(check_ray_address(address))
    if target is not None:
        try:
            socket.create_connection(target, timeout=10).close()
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise ValueError(
                f"cannot reach the Ray cluster at {address} ({reason}); {_START}, or check the "
                "address."
            ) from None
    try:
        ray.init(address=address, logging_level=logging.WARNING)
    # ImportError: a ray:// address without the Ray Client extra ('ray[client]')
    except (ConnectionError, RuntimeError, ValueError, ImportError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"cannot join the Ray cluster at {address}: {reason}; {_START}.") from None
    return ray.cluster_resources()


def run_on_ray(
    worker: Callable[[int], Any],
    n_workers: int,
    *,
    address: str | None = None,
    trials_per_gpu: int | None = None,
    cpus_per_worker: float = 1.0,
    max_retries: int = 3,
) -> list[Any]:
    """Run ``worker(i)`` for ``i`` in ``range(n_workers)`` as Ray tasks and wait for them.

    ``worker`` runs in the task's own process on any machine of the cluster, so it
    opens everything itself (storage, study, data, objective) and returns when the
    study's queue is empty; it must be picklable (a module-level function, or a
    closure over plain values). ``i`` tells the tasks apart (a seed each). Tasks are
    spread over the machines; each asks for one GPU, or ``1 / trials_per_gpu`` of one,
    when the cluster has GPUs, else for ``cpus_per_worker`` CPUs only.

    Parameters
    ----------
    worker:
        One worker loop, e.g. a function that loads the study and calls
        :func:`~optuna_nas.workers.run_worker`; called with the task's index.
    n_workers:
        Tasks to run (more than the cluster fits at once wait for a free slot).
    address:
        The cluster (:func:`connect_ray`); ignored when this process is connected already.
    trials_per_gpu:
        Tasks that share one GPU (small networks); an error on a cluster without GPUs.
    cpus_per_worker:
        CPUs each task reserves (and its torch threads, if ``worker`` sets them so).
    max_retries:
        How often Ray starts a task again whose process died.

    Returns
    -------
    list
        What each task's ``worker(i)`` returned; ``None`` for a task whose process
        died more than ``max_retries`` times (its trials are retried by the others).

    Raises
    ------
    ValueError
        See :func:`connect_ray` and :func:`~optuna_nas.workers.gpus_per_task`.
    Exception
        The first exception a ``worker(i)`` raised, once every task has ended.

    Examples
    --------
    ::

        def work(index: int) -> int:  # runs on a cluster machine
            storage = storage_from_url("postgresql://nas@db-host/nas")
            study = optuna.load_study(study_name="nb201", storage=storage,
                                      sampler=LemonadeSampler(space, seed=index))
            store = FileSystemArtifactStore("/shared/nas-artifacts")
            return run_worker(study, NASObjective(space, "fashion-mnist",
                                                  artifact_store=store))

        run_on_ray(work, 8, address="head-host:6379")  # trials each task ran
    """
    if n_workers < 1:
        raise ValueError(f"n_workers must be >= 1, got {n_workers}.")
    ray = _ray()
    own = not ray.is_initialized()
    resources = connect_ray(address)
    try:
        gpus = gpus_per_task(resources.get("GPU", 0.0), trials_per_gpu)
        _warn_if_queued(n_workers, resources, gpus, cpus_per_worker)
        task = ray.remote(_task).options(
            num_cpus=cpus_per_worker,
            num_gpus=gpus,
            max_retries=max_retries,
            retry_exceptions=False,  # a worker's own error would only happen again
            scheduling_strategy="SPREAD",
        )
        refs = [task.remote(worker, i) for i in range(n_workers)]
        results, error = [], None
        for ref in refs:
            try:
                results.append(ray.get(ref))
            except ray.exceptions.RayTaskError as exc:
                results.append(None)
                error = error or exc.as_instanceof_cause()
            except ray.exceptions.RayError as exc:  # its process died once too often
                _logger.warning("a worker task ended without finishing: %s", _first_line(exc))
                results.append(None)
        if error is not None:
            raise error
        return results
    finally:
        if own:
            ray.shutdown()


def _task(worker: Callable[[int], Any], index: int) -> Any:
    return worker(index)


def _warn_if_queued(n: int, resources: dict[str, float], gpus: float, cpus: float) -> None:
    fits = [math.floor(resources.get("CPU", 0.0) / cpus)] if cpus > 0 else []
    if gpus > 0:
        fits.append(math.floor(resources.get("GPU", 0.0) / gpus + 1e-9))
    if fits and min(fits) < n:
        _logger.warning(
            "the Ray cluster fits %d of the %d worker tasks at once; the others start when "
            "one ends (and then find the queue empty)",
            min(fits),
            n,
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ValueError(f"a Ray cluster needs the Python package 'ray': {_INSTALL}.") from None
    return ray
