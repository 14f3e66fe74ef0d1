from __future__ import annotations

import argparse
import logging
import os
import time
import warnings

import optuna
import torch
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import TrialState
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from optuna_nas.cli._inspect import front_table, storage_from_url
from optuna_nas.data import load_data
from optuna_nas.encoding import BaseSpace, DartsSpace, NB201Space
from optuna_nas.lemonade import LemonadeSampler
from optuna_nas.objectives import get_objective
from optuna_nas.search import NASObjective, create_study
from optuna_nas.training import TrainConfig

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def make_sampler(name: str, space: BaseSpace, seed: int) -> optuna.samplers.BaseSampler:
    """A sampler by CLI name; ours join this table as they land."""
    samplers = {
        "random": lambda: optuna.samplers.RandomSampler(seed=seed),
        "tpe": lambda: optuna.samplers.TPESampler(seed=seed),
        "nsga2": lambda: optuna.samplers.NSGAIISampler(seed=seed, population_size=8),
        "lemonade": lambda: LemonadeSampler(space, seed=seed),
    }
    if name not in samplers:
        raise ValueError(f"unknown sampler {name!r}; choose one of {sorted(samplers)}.")
    return samplers[name]()


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
    if args.n_trials < 1:
        raise ValueError(f"--n-trials must be >= 1, got {args.n_trials}.")
    if args.threads:
        torch.set_num_threads(args.threads)
    space = make_space(args)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         device=args.device, seed=args.seed)  # fmt: skip
    config.resolved_device()
    sampler = make_sampler(args.sampler, space, args.seed)
    data = load_data(args.dataset, root=args.data_root, val_size=args.val_size,
                     train_size=args.train_size, test_size=args.test_size, seed=args.seed,
                     device=config.resolved_device())  # fmt: skip
    study_name = args.study_name or f"nas-{args.space}-{args.dataset}"
    storage = storage_from_url(args.storage)
    study = create_study(args.objectives, storage=storage, sampler=sampler, study_name=study_name)
    os.makedirs(args.artifact_dir, exist_ok=True)
    objective = NASObjective(space, data, args.objectives, config,
                             artifact_store=FileSystemArtifactStore(args.artifact_dir))  # fmt: skip
    objective.check_study(study)
    done = len(study.get_trials(deepcopy=False, states=_FINISHED))
    remaining = args.n_trials - done
    console.print(
        f"study [bold]{study_name}[/] in {args.storage}: {done} finished trial(s), "
        f"{max(0, remaining)} to go; {space!r} on {data!r}"
    )
    if remaining > 0:
        _optimize(study, objective, remaining, args, console)
    out = Console(soft_wrap=True, width=None if console.is_terminal else 200)
    out.print(front_table(study))
    out.print(
        f"Open the dashboard: [bold]optuna-dashboard {args.storage} "
        f"--artifact-dir {args.artifact_dir}[/]"
    )
    return 0


def _optimize(study, objective, n_trials, args, console) -> None:  # noqa: ANN001
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    epochs = objective.train_config.epochs
    if args.no_progress or not console.is_terminal:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        start = time.perf_counter()

        def log(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            front = len(study.best_trials)
            print(f"[{time.perf_counter() - start:7.1f}s] trial {trial.number} {trial.state.name} "
                  f"values={trial.values} front={front}", flush=True)  # fmt: skip

        study.optimize(objective, n_trials=n_trials, timeout=args.timeout, callbacks=[log],
                       catch=(Exception,))  # fmt: skip
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[info]}"), TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console) as progress:
        trials = progress.add_task("trials", total=n_trials, info="")
        epoch_task = progress.add_task("epochs", total=epochs, info="")
        objective.epoch_callbacks.append(
            lambda trial, epoch, acc: progress.update(
                epoch_task, completed=epoch + 1, info=f"trial {trial.number} val acc {acc:.3f}"
            )
        )

        def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            progress.update(trials, advance=1, info=f"Pareto front: {len(study.best_trials)}")
            progress.reset(epoch_task, total=epochs)

        study.optimize(objective, n_trials=n_trials, timeout=args.timeout,
                       callbacks=[after_trial], catch=(Exception,))  # fmt: skip
