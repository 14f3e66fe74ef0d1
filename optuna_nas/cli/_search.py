from __future__ import annotations

import argparse
import datetime
import logging
import os
import subprocess
import sys

import optuna
import torch
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import TrialState
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from optuna_nas.cli._inspect import front_table
from optuna_nas.cli._recorded import recall_settings
from optuna_nas.data import imagefolder_path, load_data
from optuna_nas.encoding import BaseSpace, DartsSpace, NB201Space
from optuna_nas.objectives import get_objective
from optuna_nas.samplers import DEFAULT_N_INITIAL, make_sampler
from optuna_nas.search import NASObjective, TrialLog, create_study
from optuna_nas.storage import keys
from optuna_nas.training import TrainConfig
from optuna_nas.workers import (
    Placement,
    hide_password,
    place_workers,
    queue_trials,
    run_worker,
    storage_from_url,
    visible_gpus,
)

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
_DEFINING = ("space", "dataset", "image_size", "objectives", "epochs", "batch_size", "lr", "channels", "cells",
             "nodes", "train_size", "val_size", "test_size", "seed")  # fmt: skip
_SHARED = ("sampler", "n_initial", "artifact_dir", "heartbeat_interval", "grace_period",
           "max_retry")  # fmt: skip


def initial_trials(name: str, n_trials: int) -> int | None:
    """The ``--n-initial`` default: a quarter of the search, at least 4, at most the sampler's own.

    The samplers' defaults suit long searches; in a 16-trial search LEMONADE's 20 random
    trials would leave nothing for evolution.
    """
    # nsga2: its population sets the generations' size too
    if name not in DEFAULT_N_INITIAL or name == "nsga2":
        return None
    return min(DEFAULT_N_INITIAL[name], max(4, n_trials // 4))


def make_space(args: argparse.Namespace) -> BaseSpace:
    kwargs = {}
    if args.channels:
        kwargs["channels"] = args.channels
    if args.cells:
        kwargs["cells"] = args.cells
    if args.space == "darts":
        return DartsSpace(nodes=args.nodes, **kwargs)
    return NB201Space(**kwargs)


def run_search(args: argparse.Namespace) -> int:
    console = Console(stderr=True, soft_wrap=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for name in args.objectives:
        get_objective(name)  # unknown names fail before any data or training
    for option in ("n_trials", "workers", "n_initial"):
        if getattr(args, option) is not None and getattr(args, option) < 1:
            raise ValueError(
                f"--{option.replace('_', '-')} must be >= 1, got {getattr(args, option)}."
            )
    if args.sampler == "tnd":  # before the storage is opened (a resumed one is checked later)
        for flag in ("workers", "cluster", "trials_per_gpu"):
            if getattr(args, flag) not in (None, 1):
                raise ValueError(
                    f"--{flag.replace('_', '-')} does not apply to --sampler tnd: one process "
                    "trains the supernet. Run it with --workers 1; extra workers can draw from "
                    "its α with TNDSampler."
                )
    # Where the workers train is settled before anything is created: a wrong address or a
    # --trials-per-gpu without GPUs fails first.
    if args.cluster is not None:
        from optuna_nas.cli._worker import cluster_resources, on_cluster

        resources, placements = cluster_resources(args), []
    else:
        placements = _place(args)
        args.device = placements[0].device  # this process is the first worker
        if args.threads is None and args.workers > 1:
            args.threads = max(1, (os.cpu_count() or 1) // args.workers)  # they share the CPUs
    if args.n_initial is not None and args.sampler in ("random", "tnd"):
        console.print(f"note: --n-initial does not apply to --sampler {args.sampler}.")
    if (folder := imagefolder_path(args.dataset)) is not None:
        args.dataset = f"imagefolder:{folder}"  # workers started elsewhere find the same folder
    # An unreachable storage fails here, before data is loaded or anything trains.
    storage = open_storage(args)
    # A resumed search keeps the options it recorded that are not given again.
    if recall_settings(args, storage, default_study_name(args)):
        storage = open_storage(args)  # its heartbeat and retries too
    space = make_space(args)
    if args.sampler == "tnd":  # a study driver (supernet, stages), not a per-trial sampler
        from optuna_nas.cli._tnd import run_tnd

        return run_tnd(args, space, storage, console)
    if args.n_initial is None:
        args.n_initial = initial_trials(args.sampler, args.n_trials)
    sampler = make_sampler(args.sampler, space, args.seed, args.n_initial)
    args.artifact_dir = os.path.abspath(args.artifact_dir)
    # On a cluster this process only queues and reports: it trains nothing.
    objective = build_objective(argparse.Namespace(**{**vars(args), "device": "cpu"})
                                if args.cluster else args, space)  # fmt: skip
    study_name = default_study_name(args)
    study = create_study(args.objectives, storage=storage, sampler=sampler, study_name=study_name)
    objective.check_study(study)
    record_settings(study, args)
    done = len(study.get_trials(deepcopy=False, states=_FINISHED))
    queue_trials(study, args.n_trials)
    console.print(
        f"study [bold]{study_name}[/] in {hide_password(args.storage)}: {done} finished trial(s), "
        f"{max(0, args.n_trials - done)} to go; {space!r} on {objective.data!r}"
    )
    started = datetime.datetime.now()
    if args.cluster is not None:
        on_cluster(args, study_name, resources, console)
    else:
        helpers = [_spawn_worker(args, study_name, i, p) for i, p in enumerate(placements) if i]
        try:
            work(study, objective, args, console, total=args.n_trials)
        except BaseException:
            for helper in helpers:  # this process is failing: stop the workers it started
                helper.terminate()
            raise
        finally:
            _join(helpers, console)
    failed = _failed_since(study, started)
    if failed and not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        console.print(
            f"optuna-nas search: error: all {len(failed)} trial(s) of this run failed; "
            f"{_reason(failed[-1])}. Fix that and run the same command again: the study "
            "resumes where it stopped.",
            markup=False,
            highlight=False,
        )
        return 1
    if failed:
        console.print(
            f"note: {len(failed)} trial(s) failed ({_reason(failed[-1])}); the others carried "
            "on. Run the same command again to replace them.",
            markup=False,
            highlight=False,
        )
    from optuna_nas.report import save_study_report

    save_study_report(study, objective.artifact_store)
    out = Console(soft_wrap=True, width=None if console.is_terminal else 200)
    out.print(front_table(study))
    out.print(
        f"Open the dashboard: [bold]optuna-nas dashboard --storage {hide_password(args.storage)} "
        f"--artifact-dir {args.artifact_dir}[/]"
    )
    return 0


def _failed_since(study: optuna.Study, started: datetime.datetime) -> list:
    """This run's FAIL trials that no retry replaced (a killed worker's trial was)."""
    trials = study.get_trials(deepcopy=False)
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", ())}
    return [t for t in trials if t.state == TrialState.FAIL and t.number not in retried
            and t.datetime_start is not None and t.datetime_start >= started]  # fmt: skip


def _reason(trial: optuna.trial.FrozenTrial) -> str:
    """Why a trial failed: our recorded reason, else the exception Optuna recorded."""
    reason = trial.user_attrs.get(keys.FAIL_REASON) or trial.system_attrs.get("fail_reason")
    if not reason:
        return f"trial {trial.number} failed without a recorded reason"
    return f"trial {trial.number}: {str(reason).splitlines()[-1][:300]}"


def default_study_name(args: argparse.Namespace) -> str:
    """``--study-name``, else ``nas-<space>-<dataset>`` (an image folder by its folder's name)."""
    if args.study_name:
        return args.study_name
    folder = imagefolder_path(args.dataset)
    return f"nas-{args.space}-{folder.name if folder is not None else args.dataset}"


def open_storage(args: argparse.Namespace) -> optuna.storages.BaseStorage:
    return storage_from_url(args.storage, heartbeat_interval=args.heartbeat_interval,
                            grace_period=args.grace_period, max_retry=args.max_retry)  # fmt: skip


def build_objective(args: argparse.Namespace, space: BaseSpace) -> NASObjective:
    """The objective of the recorded settings, on this machine's device and threads."""
    if args.threads:
        torch.set_num_threads(args.threads)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         device=args.device, seed=args.seed)  # fmt: skip
    data = load_data(args.dataset, root=args.data_root, val_size=args.val_size,
                     train_size=args.train_size, test_size=args.test_size, seed=args.seed,
                     image_size=getattr(args, "image_size", None),
                     device=config.resolved_device())  # fmt: skip
    os.makedirs(args.artifact_dir, exist_ok=True)
    store = FileSystemArtifactStore(args.artifact_dir)
    return NASObjective(space, data, args.objectives, config, artifact_store=store)


def record_settings(study: optuna.Study, args: argparse.Namespace) -> None:
    """Store the options that define the study, or check a resumed search uses the same."""
    settings = {key: getattr(args, key) for key in (*_DEFINING, *_SHARED)}
    old = study.user_attrs.get(keys.SEARCH_SETTINGS)
    if old is not None:
        changed = [
            f"--{key.replace('_', '-')} was {old.get(key)!r}, now {settings[key]!r}"
            for key in _DEFINING
            if old.get(key) != settings[key]
        ]
        if changed:
            raise ValueError(
                f"study {study.study_name!r} was searched with other settings "
                f"({'; '.join(changed)}); its trials would not be comparable. Resume with the "
                "same options, or start a new study with --study-name."
            )
    study.set_user_attr(keys.SEARCH_SETTINGS, settings)


def work(study, objective, args, console, total) -> int:  # noqa: ANN001
    """Run queued trials with a progress bar (one worker, a terminal) or log lines."""
    epochs = objective.train_config.epochs
    if args.no_progress or not console.is_terminal or args.workers > 1:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        log = TrialLog(prefix=f"worker {os.getpid()}: ")
        return run_worker(study, objective, timeout=args.timeout, callbacks=[log])
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[info]}"), TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console) as progress:
        finished = len(study.get_trials(deepcopy=False, states=_FINISHED))
        trials = progress.add_task("trials", total=total, completed=finished, info="")
        epoch_task = progress.add_task("epochs", total=epochs, info="")
        objective.epoch_callbacks.append(
            lambda trial, epoch, acc: progress.update(
                epoch_task, completed=epoch + 1, info=f"trial {trial.number} val acc {acc:.3f}"
            )
        )

        def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            finished = len(study.get_trials(deepcopy=False, states=_FINISHED))
            info = f"Pareto front: {len(study.best_trials)}"
            progress.update(trials, completed=finished, info=info)
            progress.reset(epoch_task, total=epochs)

        return run_worker(study, objective, timeout=args.timeout, callbacks=[after_trial])


def _place(args: argparse.Namespace) -> list[Placement]:
    """The device of this process and of each worker it starts (``--trials-per-gpu``)."""
    count = 0 if args.device == "cpu" else torch.cuda.device_count()
    return place_workers(args.workers, visible_gpus(os.environ, count),
                         trials_per_gpu=args.trials_per_gpu, device=args.device)  # fmt: skip


def worker_argv(args: argparse.Namespace, study_name: str, index: int, device: str) -> list[str]:
    """The ``optuna-nas worker`` arguments of the search's worker ``index`` (its own seed)."""
    argv = ["--storage", args.storage, "--study-name", study_name, "--artifact-dir",
            args.artifact_dir, "--seed", str((args.seed + index) % 2**32), "--device", device,
            "--no-progress"]  # fmt: skip
    if args.threads:  # each worker its share of the CPUs
        argv += ["--threads", str(args.threads)]
    if args.data_root:
        argv += ["--data-root", args.data_root]
    if args.timeout:
        argv += ["--timeout", str(args.timeout)]
    return argv


def _spawn_worker(
    args: argparse.Namespace, study_name: str, index: int, placement: Placement
) -> subprocess.Popen:
    # A GPU worker sees only its GPU (as cuda:0); a CPU worker keeps the environment.
    device = "cpu" if placement.gpu is None else "cuda"
    command = [sys.executable, "-m", "optuna_nas.cli", "worker",
               *worker_argv(args, study_name, index, device)]  # fmt: skip
    return subprocess.Popen(command, env={**os.environ, **placement.environ()})


def _join(helpers: list[subprocess.Popen], console: Console) -> None:
    for helper in helpers:
        code = helper.wait()
        if code != 0:
            console.print(
                f"worker {helper.pid} exited with {code}; a trial it was running fails after "
                "the heartbeat grace period and is retried by a worker (or the next run)."
            )
