"""One readable line per finished trial, for scripts and the command line alike."""

from __future__ import annotations

import sys
import time
from typing import TextIO

import optuna
from optuna.trial import FrozenTrial

from optuna_nas.objectives import format_value


def trial_summary(study: optuna.Study, trial: FrozenTrial) -> str:
    """``trial 3 COMPLETE error=0.1583 params=32258 test_acc=0.8348 front=3``.

    Values are rounded to what they mean (:func:`~optuna_nas.objectives.format_value`);
    a failed trial shows its ``fail_reason``.
    """
    names = study.metric_names or [f"value{i}" for i in range(len(trial.values or []))]
    parts = [f"trial {trial.number} {trial.state.name}"]
    parts += [f"{n}={format_value(v)}" for n, v in zip(names, trial.values or [], strict=False)]
    if (test := trial.user_attrs.get("test_accuracy")) is not None:
        parts.append(f"test_acc={test:.4f}")
    if (reason := trial.user_attrs.get("fail_reason")) is not None:
        parts.append(f"({reason})")
    parts.append(f"front={len(study.best_trials)}")
    return " ".join(parts)


class TrialLog:
    """A ``study.optimize`` callback that prints one line per finished trial.

    Optuna's own INFO line repeats every param and unrounded values; this one is
    short: elapsed time, state, the objectives, test accuracy and the front's size.

    Examples
    --------
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)          # doctest: +SKIP
    >>> study.optimize(objective, n_trials=16, callbacks=[optuna_nas.TrialLog()])
    [   21.4s] trial 0 COMPLETE error=0.1947 params=18594 test_acc=0.8093 front=1
    """

    def __init__(self, prefix: str = "", stream: TextIO | None = None) -> None:
        self._prefix = prefix
        self._stream = stream
        self._start = time.perf_counter()

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        elapsed = time.perf_counter() - self._start
        print(f"[{elapsed:7.1f}s] {self._prefix}{trial_summary(study, trial)}",
              file=self._stream or sys.stdout, flush=True)  # fmt: skip
