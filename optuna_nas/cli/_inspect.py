"""``optuna-nas front``, and the study every reading verb opens (``open_study``)."""

from __future__ import annotations

import argparse

import optuna
from rich.console import Console
from rich.table import Table

from optuna_nas.cli._recorded import open_existing_storage
from optuna_nas.final import final_records
from optuna_nas.objectives import format_value
from optuna_nas.storage import keys
from optuna_nas.workers import hide_password


def open_study(args: argparse.Namespace) -> optuna.Study:
    """The study of ``--storage`` (an existing one) and ``--study-name`` (or its only search)."""
    storage = open_existing_storage(args.storage, args.study_name)
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    name = args.study_name
    if not names:
        which = "" if name is None else f" {name!r}"
        raise ValueError(
            f"no study{which} in {hide_password(args.storage)}; run 'optuna-nas search' first, or "
            "pass the --storage the search used."
        )
    if name is None:
        searches = [n for n in names if not n.endswith(keys.FINAL_SUFFIX)]  # not retrain's records
        if len(searches) != 1:
            raise ValueError(
                f"--study-name is required; studies in {hide_password(args.storage)}: {names}"
            )
        name = searches[0]
    if name not in names:
        raise ValueError(f"no study {name!r} in {hide_password(args.storage)}; studies: {names}")
    return optuna.load_study(study_name=name, storage=storage)


def front_table(study: optuna.Study) -> Table:
    """The Pareto front as a rich table, sorted by the first objective.

    ``final test acc`` and ``final epochs`` come from the latest final training of
    the trial (``optuna-nas retrain``), blank for trials not retrained.
    """
    names = study.metric_names or [f"value{i}" for i in range(len(study.directions))]
    finals = final_records(study)
    table = Table(title=f"Pareto front of {study.study_name}")
    final_columns = ("final test acc", "final epochs") if finals else ()
    for column in ("trial", *names, "test acc", *final_columns, "architecture"):
        table.add_column(column)
    for trial in sorted(study.best_trials, key=lambda t: t.values[0]):
        test = trial.user_attrs.get("test_accuracy")
        final = finals[trial.number].user_attrs if trial.number in finals else {}
        extra = (
            ("" if final.get("test_accuracy") is None else f"{final['test_accuracy']:.4f}",
             str(final.get("epochs", "")))
            if finals
            else ()
        )  # fmt: skip
        table.add_row(
            str(trial.number),
            *(format_value(v) for v in trial.values),
            "" if test is None else f"{test:.4f}",
            *extra,
            trial.user_attrs.get("arch_str", str(trial.params)),
        )
    return table


def run_front(args: argparse.Namespace) -> int:
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)  # keep architecture strings whole in logs and pipes
    console.print(front_table(open_study(args)))
    return 0
