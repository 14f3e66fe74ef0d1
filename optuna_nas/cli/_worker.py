from __future__ import annotations

import argparse
import os

import optuna
from rich.console import Console

from optuna_nas.cli._inspect import open_study
from optuna_nas.cli._recorded import search_settings
from optuna_nas.cli._search import build_objective, make_space, work
from optuna_nas.samplers import make_sampler
from optuna_nas.workers import hide_password, storage_from_url


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
