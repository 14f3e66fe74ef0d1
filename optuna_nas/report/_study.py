"""What optuna-nas adds to a study for optuna-dashboard: a hypervolume plot, the best cells."""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING

import optuna
from optuna.artifacts import upload_artifact
from optuna_dashboard import save_plotly_graph_object

from optuna_nas.encoding import Architecture
from optuna_nas.report._cells import draw_cells
from optuna_nas.report._hypervolume import plot_hypervolume_history
from optuna_nas.storage import keys

if TYPE_CHECKING:
    from optuna.artifacts._protocol import ArtifactStore

HYPERVOLUME_PLOT = "hypervolume-history"
"""Id of the hypervolume plot among the study's dashboard plots."""
BEST_CELLS = keys.BEST_CELLS
"""Study user attr: the trials in the cells picture and the picture's artifact id."""


def save_study_report(
    study: optuna.Study, artifact_store: ArtifactStore | None = None, *, max_cells: int = 6
) -> str | None:
    """Save a hypervolume history plot and a picture of the best cells to the study.

    optuna-dashboard shows the plot on the study page and the picture among the
    study's artifacts. The plot is replaced on every call; a new picture is uploaded
    only when the front has changed since the last one.

    Parameters
    ----------
    study:
        A multi-objective study whose trials ran :class:`~optuna_nas.NASObjective`.
    artifact_store:
        Where the picture goes (the store of the trials' weights); ``None``: no picture.
    max_cells:
        At most this many Pareto-optimal trials are drawn, spread along the first objective.

    Returns
    -------
    str or None
        The artifact id of the cells picture (new or unchanged), or ``None``.
    """
    if len(study.directions) < 2 or not study.best_trials:
        return None
    save_plotly_graph_object(
        study, plot_hypervolume_history(study), graph_object_id=HYPERVOLUME_PLOT
    )
    best = sorted(
        (t for t in study.best_trials if keys.ARCH_JSON in t.user_attrs), key=lambda t: t.values
    )
    if artifact_store is None or not best:
        return None
    if len(best) > max_cells:  # evenly along the front, both ends included
        best = [best[round(i * (len(best) - 1) / (max_cells - 1))] for i in range(max_cells)]
    numbers = [t.number for t in best]
    previous = study.user_attrs.get(BEST_CELLS)
    if previous is not None and previous["trials"] == numbers:
        return previous["artifact_id"]
    names = study.metric_names or [f"value{i}" for i in range(len(study.directions))]
    cells = [
        (
            f"trial {t.number}: " + ", ".join(f"{n}={v:.4g}" for n, v in zip(names, t.values, strict=True)),
            Architecture.from_json(t.user_attrs[keys.ARCH_JSON]),
        )
        for t in best
    ]  # fmt: skip
    figure = draw_cells(cells)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "best-cells.png")
        figure.savefig(path, dpi=100)
        artifact_id = upload_artifact(artifact_store=artifact_store, file_path=path,
                                      study_or_trial=study, mimetype="image/png")  # fmt: skip
    study.set_user_attr(BEST_CELLS, {"trials": numbers, "artifact_id": artifact_id})
    return artifact_id
