"""Hypervolume of the Pareto front as trials complete, on a scale every study shares."""

from __future__ import annotations

import numpy as np
import optuna
import plotly.graph_objects as go
from optuna._hypervolume import compute_hypervolume
from optuna.trial import TrialState

from optuna_nas.search import minimised_values

REFERENCE = 1.1
"""Reference point on every normalised axis (0 = best value seen, 1 = worst)."""


def hypervolume_history(study: optuna.Study) -> tuple[list[int], np.ndarray]:
    """Normalised hypervolume after each completed trial, in order of completion.

    Each objective is scaled so that 0 is the best and 1 the worst value among the
    completed trials (maximised ones negated first); the reference point is
    :data:`REFERENCE` on every axis.

    Returns
    -------
    (numbers, hypervolumes)
        The completed trials' numbers in completion order and the hypervolume of
        the front of the trials completed up to each of them.
    """
    trials = sorted(
        study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)),
        key=lambda t: t.datetime_complete,
    )
    if not trials:
        return [], np.zeros(0)
    values = minimised_values(study, trials)
    low, high = values.min(axis=0), values.max(axis=0)
    scaled = (values - low) / np.where(high > low, high - low, 1.0)
    reference = np.full(values.shape[1], REFERENCE)
    history, front = np.zeros(len(trials)), np.zeros((0, values.shape[1]))
    for i, point in enumerate(scaled):
        if not np.any(np.all(front <= point, axis=1)):  # a new non-dominated point
            front = np.vstack([front[~np.all(point <= front, axis=1)], point])
        history[i] = compute_hypervolume(front, reference, assume_pareto=True)
    return [t.number for t in trials], history


def plot_hypervolume_history(study: optuna.Study) -> go.Figure:
    """A plotly figure of :func:`hypervolume_history`, with the front's size per trial."""
    numbers, history = hypervolume_history(study)
    names = study.metric_names or [f"value{i}" for i in range(len(study.directions))]
    figure = go.Figure(
        go.Scatter(
            # Plain lists: plotly would write numpy arrays as base64 typed arrays, which
            # older plotly.js builds (as in some optuna-dashboard releases) cannot read.
            x=list(range(1, len(numbers) + 1)),
            y=history.tolist(),
            mode="lines+markers",
            customdata=numbers,
            hovertemplate="%{x} completed (trial %{customdata}): hypervolume %{y:.4f}<extra></extra>",
            line_shape="hv",
        )
    )
    figure.update_layout(
        title=f"Hypervolume history ({' vs '.join(names)})",
        xaxis_title="completed trials",
        yaxis_title=f"hypervolume (axes scaled to best 0, worst 1; reference {REFERENCE})",
    )
    return figure
