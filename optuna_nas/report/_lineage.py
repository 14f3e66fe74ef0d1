"""Which trial descends from which: LEMONADE's children drawn from their parents."""

from __future__ import annotations

from typing import NamedTuple

import optuna
import plotly.graph_objects as go
from optuna.trial import FrozenTrial, TrialState

from optuna_nas.storage import keys

_FRONT, _OTHER, _EDGE = "#d62728", "#9e9e9e", "#c7c7c7"


class Edge(NamedTuple):
    """A child trial and the parent trial whose weights it started from."""

    parent: int
    child: int
    operator: str


def lineage_edges(study: optuna.Study) -> list[Edge]:
    """Every parent -> child link a sampler recorded, in order of the child's number.

    Read from the child's system attrs :data:`~optuna_nas.storage.keys.PARENT_TRIAL`
    and :data:`~optuna_nas.storage.keys.OPERATOR`, whatever state the child ended in.
    """
    return [
        Edge(
            int(t.system_attrs[keys.PARENT_TRIAL]),
            t.number,
            str(t.system_attrs.get(keys.OPERATOR) or "?"),
        )
        for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
        if t.system_attrs.get(keys.PARENT_TRIAL) is not None
    ]


def front_numbers(study: optuna.Study) -> set[int]:
    """Numbers of the Pareto-optimal trials (the best trial of a single-objective study)."""
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return set()
    if len(study.directions) > 1:
        return {t.number for t in study.best_trials}
    return {study.best_trial.number}


def plot_lineage(study: optuna.Study) -> go.Figure:
    """Completed trials by number and first objective, each child joined to its parent.

    Pareto-optimal trials are red, the others grey; a line runs from each parent to
    each of its children (left to right: a child always comes later), and hovering
    over a trial names its parent and operators.
    """
    complete = {
        t.number: t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    }
    edges = [e for e in lineage_edges(study) if e.parent in complete and e.child in complete]
    front = front_numbers(study)
    names = study.metric_names or [f"value{i}" for i in range(len(study.directions))]
    xs: list[int | None] = []
    ys: list[float | None] = []
    for edge in edges:  # one trace for all edges: segments separated by gaps
        xs += [edge.parent, edge.child, None]
        ys += [complete[edge.parent].values[0], complete[edge.child].values[0], None]
    parents = {e.child: e for e in edges}
    figure = go.Figure(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines",
            line={"color": _EDGE, "width": 1.5},
            name="parent → child",
            hoverinfo="skip",
        )
    )
    for on_front, label, colour in ((False, "dominated", _OTHER), (True, "Pareto front", _FRONT)):
        trials = [t for n, t in sorted(complete.items()) if (n in front) == on_front]
        figure.add_trace(
            go.Scatter(
                # Plain lists: some optuna-dashboard builds cannot read plotly's typed arrays.
                x=[t.number for t in trials],
                y=[t.values[0] for t in trials],
                mode="markers",
                marker={
                    "color": colour,
                    "size": 11 if on_front else 8,
                    "symbol": ["circle" if t.number in parents else "diamond" for t in trials],
                    "line": {"color": "white", "width": 1},
                },
                name=label,
                text=[_hover(t, parents.get(t.number), names) for t in trials],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    figure.update_layout(
        title=f"Lineage: {len(edges)} children of {len({e.parent for e in edges})} parent(s) "
        "(diamonds: no parent)",
        xaxis_title="trial number",
        yaxis_title=names[0],
    )
    return figure


def _hover(trial: FrozenTrial, edge: Edge | None, names: list[str]) -> str:
    origin = "no parent" if edge is None else f"child of {edge.parent} by {edge.operator}"
    values = ", ".join(f"{n}={v:.4g}" for n, v in zip(names, trial.values, strict=True))
    return f"trial {trial.number} ({origin})<br>{values}"
