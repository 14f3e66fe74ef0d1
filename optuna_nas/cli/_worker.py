from __future__ import annotations

import argparse
import functools
import os

import optuna
from rich.console import Console

from optuna_nas.cli._inspect import open_study
from optuna_nas.cli._recorded import search_settings
from optuna_nas.cli._search import build_objective, make_space, work
from optuna_nas.samplers import make_sampler
from optuna_nas.workers import connect_ray, hide_password, run_on_ray, storage_from_url


def run_worker_command(args: argparse.Namespace) -> int:
    """Join a study that ``optuna-nas search`` started, with the search's settings."""
    console = Console(stderr=True, soft_wrap=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(args)
    settings = search_settings(study, "worker")  # a plain Optuna study is a clear error
    config = argparse.Namespace(**settings)
    config.artifact_dir = os.path.abspath(args.artifact_dir or settings["artifact_dir"])
    for key in ("device", "threads", "data_root", "timeout", "no_progress"):
        setattr(config, key, getattr(args, key))
    config.workers = 1
    # Reopen with the search's heartbeat, so this worker's trials are watched the same way.
    storage = storage_from_url(args.storage, heartbeat_interval=config.heartbeat_interval,
                               grace_period=config.grace_period, max_retry=config.max_retry)  # fmt: skip
    space = make_space(config)
    sampler = make_sampler(config.sampler, space, args.seed, settings.get("n_initial"))
    study = optuna.load_study(study_name=study.study_name, storage=storage, sampler=sampler)
    objective = build_objective(config, space)
    objective.check_study(study)
    console.print(
        f"worker {os.getpid()} joined study [bold]{study.study_name}[/] in "
        f"{hide_password(args.storage)}; {space!r} on {objective.data!r}"
    )
    ran = work(study, objective, config, console, total=None)
    console.print(f"worker {os.getpid()}: ran {ran} trial(s); no queued trial is left.")
    return 0


def cluster_resources(args: argparse.Namespace) -> dict[str, float]:
    """Join ``search --cluster``'s Ray cluster: its resources; bad settings fail first."""
    if args.storage.lower().startswith("sqlite"):
        raise ValueError(
            f"--cluster needs a storage that every machine of the cluster reaches "
            f"(postgresql://, mysql:// or redis://); {hide_password(args.storage)} is a file on "
            "this machine. Pass --storage postgresql://USER@HOST/DB."
        )
    resources = connect_ray(args.cluster)
    if args.device == "cuda" and not resources.get("GPU"):
        raise ValueError(f"--device cuda, but the Ray cluster at {args.cluster} has no GPUs; "
                         "use --device auto or cpu.")  # fmt: skip
    args.threads = args.threads or 1  # each task reserves this many CPUs and uses as many
    return resources


def on_cluster(
    args: argparse.Namespace, study_name: str, resources: dict[str, float], console: Console
) -> None:
    """Run the search's ``--workers`` as Ray tasks, each an ``optuna-nas worker`` loop."""
    from optuna_nas.cli._search import worker_argv

    # A task that asked for no GPU may still see the machine's: it must not take one.
    device = "cpu" if args.device == "auto" and not resources.get("GPU") else args.device
    argvs = [worker_argv(args, study_name, i + 1, device) for i in range(args.workers)]
    gpus = resources.get("GPU", 0)
    console.print(
        f"{args.workers} worker task(s) on the Ray cluster at {args.cluster} "
        f"({resources.get('CPU', 0):g} CPUs, {gpus:g} GPUs)"
    )
    codes = run_on_ray(functools.partial(worker_task, argvs), args.workers,
                       trials_per_gpu=args.trials_per_gpu, cpus_per_worker=args.threads)  # fmt: skip
    for index, code in enumerate(codes):
        if code != 0:
            console.print(
                f"worker task {index} ended with {'a crash' if code is None else code}; a trial "
                "it was running fails after the heartbeat grace period and is retried."
            )


def worker_task(argvs: list[list[str]], index: int) -> int | None:
    """``optuna-nas worker ARGVS[INDEX]`` in this process: one task of ``search --cluster``."""
    from optuna_nas.cli._main import main

    return main(["worker", *argvs[index]])


def storage_lost(exc: BaseException, args: argparse.Namespace) -> str | None:
    """A clear message if ``exc`` means the storage went away mid-run, else ``None``."""
    import sqlalchemy.exc

    kinds: tuple[type[BaseException], ...] = (
        optuna.exceptions.StorageInternalError,
        sqlalchemy.exc.OperationalError,
        sqlalchemy.exc.InterfaceError,
    )
    try:
        import redis

        kinds += (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
    except ImportError:
        pass
    if not isinstance(exc, kinds):
        return None
    cause = exc.__cause__ or exc
    reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return (
        f"lost the storage {hide_password(args.storage)} ({reason}). Finished trials are safe in "
        "the storage; a trial that was running stays RUNNING there, fails after the heartbeat "
        "grace period and is queued again. When the storage is reachable, "
        "rerun the same command to resume."
    )
