"""``optuna-nas retrain``: train a search's winners from scratch with the full budget."""

from __future__ import annotations

import argparse
import logging
import os

import optuna
import torch
from optuna.artifacts import FileSystemArtifactStore
from rich.console import Console
from rich.table import Table

from optuna_nas.cli._inspect import open_study
from optuna_nas.cli._recorded import require_ours
from optuna_nas.final import choose_trials, retrain, study_config, study_data
from optuna_nas.objectives import format_value
from optuna_nas.storage import keys


def run_retrain(args: argparse.Namespace) -> int:
    """Retrain ``--trials`` (default: the front) and print one line per epoch and a table."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    study = open_study(args)
    require_ours(study, "retrain")
    sources = choose_trials(study, args.trials)  # bad numbers fail before data is loaded
    config = study_config(study, args.epochs, device=args.device)
    settings = study.user_attrs.get(keys.SEARCH_SETTINGS) or {}
    artifact_dir = os.path.abspath(args.artifact_dir or settings.get("artifact_dir") or "artifacts")
    os.makedirs(artifact_dir, exist_ok=True)
    sizes = {key: getattr(args, key) for key in ("train_size", "test_size")}  # N, "all" or None
    data = study_data(study, **sizes, root=args.data_root, device=config.resolved_device())
    console = Console(soft_wrap=True, width=None if Console().is_terminal else 200)
    console.print(
        f"retraining trial(s) {', '.join(str(t.number) for t in sources)} of "
        f"[bold]{study.study_name}[/]: {config.epochs} epochs on "
        f"{len(data.train_y) + len(data.val_y)} images (train + validation), scored on "
        f"{len(data.test_y)} test images"
    )

    def on_epoch(number: int, epoch: int, accuracy: float) -> None:
        console.print(f"trial {number}: epoch {epoch + 1}/{config.epochs} test acc {accuracy:.4f}")

    # The epoch lines are plain lines, in a terminal or a log (--no-progress changes nothing).
    records = retrain(study, sources, config=config, data=data, on_epoch=on_epoch,
                      artifact_store=FileSystemArtifactStore(artifact_dir))  # fmt: skip
    console.print(_final_table(study, records))
    return 0


def _final_table(study: optuna.Study, records: list[optuna.trial.FrozenTrial]) -> Table:
    names = list(study.metric_names or [])
    table = Table(title=f"Final training of {study.study_name}")
    for column in ("trial", "final trial", "state", *names, "search test acc", "final test acc",
                   "epochs", "seconds"):  # fmt: skip
        table.add_column(column)
    search = {t.number: t for t in study.get_trials(deepcopy=False)}
    for record in records:
        attrs = record.user_attrs
        source = attrs["source_trial"]
        before = search[source].user_attrs.get("test_accuracy")
        table.add_row(
            str(source),
            str(record.number),
            record.state.name + (f": {attrs['fail_reason']}" if "fail_reason" in attrs else ""),
            *(format_value(v) for v in (record.values or [float("nan")] * len(names))),
            "" if before is None else f"{before:.4f}",
            "" if "test_accuracy" not in attrs else f"{attrs['test_accuracy']:.4f}",
            str(attrs.get("epochs", "")),
            "" if "train_seconds" not in attrs else f"{attrs['train_seconds']:.1f}",
        )
    return table
