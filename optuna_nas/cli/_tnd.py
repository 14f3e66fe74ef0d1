"""``optuna-nas search --sampler tnd``: the TND-NAS study driver with a per-stage display."""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings

import optuna
import torch
from optuna.artifacts import FileSystemArtifactStore
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from optuna_nas.cli._search import default_study_name, record_settings
from optuna_nas.data import load_data
from optuna_nas.encoding import BaseSpace
from optuna_nas.objectives import get_objective
from optuna_nas.search import create_study, pareto_indices
from optuna_nas.storage import keys
from optuna_nas.tnd import TNDEvent, TNDSampler, TNDSearch, trade_off_ladder
from optuna_nas.training import TrainConfig
from optuna_nas.workers import hide_password


def run_tnd(
    args: argparse.Namespace,
    space: BaseSpace,
    storage: optuna.storages.BaseStorage,
    console: Console,
) -> int:
    """Search with TND-NAS; ``--n-trials`` trade-off settings, so as many derived architectures.

    ``--epochs`` is both the supernet's epochs per stage and the full training's epochs.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    specs = [get_objective(name) for name in args.objectives]  # unknown names fail first
    if args.threads:
        torch.set_num_threads(args.threads)
    sampler = TNDSampler(space, seed=args.seed)  # a space TND-NAS cannot search fails here
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         device=args.device, seed=args.seed)  # fmt: skip
    data = load_data(args.dataset, root=args.data_root, val_size=args.val_size,
                     train_size=args.train_size, test_size=args.test_size, seed=args.seed,
                     image_size=args.image_size, device=config.resolved_device())  # fmt: skip
    study_name = default_study_name(args)
    study = create_study(args.objectives, storage=storage, sampler=sampler, study_name=study_name)
    args.artifact_dir = os.path.abspath(args.artifact_dir)
    record_settings(study, args)  # export, retrain and dashboard read the data and weights' place
    cost = next((s.name for s in specs if s.cheap), "params")
    settings = trade_off_ladder(space, cost, args.n_trials, input_shape=data.input_shape,
                                num_classes=data.num_classes, seed=args.seed)  # fmt: skip
    os.makedirs(args.artifact_dir, exist_ok=True)
    search = TNDSearch(study, space, data, settings, search_config=config, train_config=config,
                       artifact_store=FileSystemArtifactStore(args.artifact_dir), seed=args.seed)  # fmt: skip
    if args.timeout is not None:
        console.print("note: --timeout does not apply to --sampler tnd (it runs its stages).")
    console.print(
        f"TND-NAS on study [bold]{study_name}[/] in {hide_password(args.storage)}: "
        f"{len(settings)} trade-off "
        f"setting(s) on {cost} ({', '.join(s.name for s in settings)}), "
        f"{search.n_stages} stages; {space!r} on {data!r}"
    )
    if args.no_progress or not console.is_terminal:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        search.callbacks.append(_log_lines())
        final = search.run()
    else:
        with Progress(*_COLUMNS, console=console) as progress:
            search.callbacks.append(_ProgressDisplay(progress))
            final = search.run()
    out = Console(soft_wrap=True, width=None if console.is_terminal else 200)
    out.print(_front_table(study, final))
    out.print(
        f"Open the dashboard: [bold]optuna-nas dashboard --storage {hide_password(args.storage)} "
        f"--artifact-dir {args.artifact_dir}[/]"
    )
    return 0


_COLUMNS = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn())  # fmt: skip


class _ProgressDisplay:
    """One bar per search stage (weight steps), then bars for the final trials and epochs."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = None
        self.epochs = None

    def __call__(self, event: TNDEvent) -> None:
        progress = self.progress
        if event.kind == "stage":
            self.task = progress.add_task(event.message, total=event.total, info="")
        elif event.kind == "update" and self.task is not None:
            progress.update(self.task, completed=event.done, info=event.message[:120])
        elif event.kind == "final":
            self.task = progress.add_task("full training", total=event.total, info="")
            self.epochs = progress.add_task("epochs", total=None, info="")
        elif event.kind == "epoch" and self.epochs is not None:
            progress.update(
                self.epochs, completed=event.done, total=event.total, info=event.message
            )
        elif event.kind == "trial":
            progress.update(self.task, completed=event.done, info=event.message[:120])
            progress.reset(self.epochs)


def _log_lines():  # noqa: ANN202
    start = time.perf_counter()

    def log(event: TNDEvent) -> None:
        if event.kind != "epoch":
            print(f"[{time.perf_counter() - start:7.1f}s] {event.kind} "
                  f"(stage {event.stage + 1}/{event.n_stages}, {event.done}/{event.total}): "
                  f"{event.message}", flush=True)  # fmt: skip

    return log


def _front_table(study: optuna.Study, final: list) -> Table:
    """The Pareto front of the fully trained derived architectures."""
    names = study.metric_names or []
    complete = [t for t in final if t.state == optuna.trial.TrialState.COMPLETE]
    front = [complete[i] for i in pareto_indices(study, complete)]
    table = Table(title=f"Pareto front of the derived architectures ({study.study_name})")
    for column in ("trial", *names, "test acc", "settings", "architecture"):
        table.add_column(column)
    for trial in sorted(front, key=lambda t: t.values[0]):
        test = trial.user_attrs.get("test_accuracy")
        table.add_row(
            str(trial.number),
            *(f"{v:.4g}" for v in trial.values),
            "" if test is None else f"{test:.4f}",
            ", ".join(trial.user_attrs.get(keys.TND_SETTINGS, [])),
            trial.user_attrs.get("arch_str", ""),
        )
    return table
