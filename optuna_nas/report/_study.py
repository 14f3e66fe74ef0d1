"""What optuna-nas adds to a study for optuna-dashboard: plots, the best cells, trial notes."""

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
from optuna_nas.report._lineage import lineage_edges, plot_lineage
from optuna_nas.report._notes import save_trial_notes
from optuna_nas.storage import keys

if TYPE_CHECKING:
    from optuna.artifacts._protocol import ArtifactStore

HYPERVOLUME_PLOT = "hypervolume-history"
"""Id of the hypervolume plot among the study's dashboard plots."""
LINEAGE_PLOT = "lineage"
"""Id of the lineage plot (parent -> child, Pareto front in colour) among the study's plots."""
BEST_CELLS = keys.BEST_CELLS
"""Study user attr: the trials in the cells picture and the picture's artifact id."""


def save_study_report(
    study: optuna.Study, artifact_store: ArtifactStore | None = None, *, max_cells: int = 6
) -> str | None:
    """Save trial notes, a lineage plot, a hypervolume plot and a picture of the best cells.

    optuna-dashboard shows the plots on the study page, the picture among the study's
    artifacts and each note on its trial's page. Every finished trial without a note
    gets one (:func:`save_trial_notes`); the lineage plot, where a sampler recorded
    parents, and the hypervolume plot of a multi-objective study are replaced on
    every call; a new picture is uploaded only when the front has changed since the
    last one.

    Parameters
    ----------
    study:
        A study whose trials ran :class:`~optuna_nas.NASObjective`.
    artifact_store:
        Where the pictures go (the store of the trials' weights); ``None``: no pictures.
    max_cells:
        At most this many Pareto-optimal trials are drawn, spread along the first objective.

    Returns
    -------
    str or None
        The artifact id of the best cells picture (new or unchanged), or ``None``.
    """
    save_trial_notes(study, artifact_store)
    multi_objective = len(study.directions) > 1 and bool(study.best_trials)
    if multi_objective:
        save_plotly_graph_object(
            study, plot_hypervolume_history(study), graph_object_id=HYPERVOLUME_PLOT
        )
    if lineage_edges(study):
        save_plotly_graph_object(study, plot_lineage(study), graph_object_id=LINEAGE_PLOT)
    if not multi_objective:
        return None
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
