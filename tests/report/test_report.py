import io
import json

import numpy as np
import pytest
from optuna.artifacts import FileSystemArtifactStore, get_all_artifact_meta
from optuna.trial import create_trial
from optuna_dashboard._custom_plot_data import get_plotly_graph_objects

from optuna_nas import DartsSpace, NB201Space, create_study
from optuna_nas.report import (
    BEST_CELLS,
    HYPERVOLUME_PLOT,
    draw_cells,
    hypervolume_history,
    plot_hypervolume_history,
    save_study_report,
)

SPACE = NB201Space(channels=4, cells=1)


def _add(study, values, arch=None):
    attrs = {} if arch is None else {"arch": arch.to_json()}
    params = SPACE.to_params(arch) if arch is not None else {}
    study.add_trial(create_trial(values=values, params=params, user_attrs=attrs,
                                 distributions={k: SPACE.distributions()[k] for k in params}))  # fmt: skip


def test_hypervolume_history_by_hand():
    study = create_study(["error", "params"])
    for values in ([0, 10], [1, 0], [1, 10], [0.5, 5]):
        _add(study, values)
    numbers, history = hypervolume_history(study)
    # Scaled to [0, 1] per axis, reference 1.1: two corner boxes of 1.1 x 0.1 overlapping in
    # 0.1 x 0.1, a dominated point, then the centre adds the 0.5 x 0.5 square.
    assert numbers == [0, 1, 2, 3]
    np.testing.assert_allclose(history, [0.11, 0.21, 0.21, 0.46])


def test_maximised_objectives_count_the_right_way_round():
    study = create_study(["accuracy", "params"])
    _add(study, [0.5, 10])
    _add(study, [0.9, 10])  # better accuracy, same size: dominates the first
    _, history = hypervolume_history(study)
    assert history[1] > history[0]
    figure = plot_hypervolume_history(study)
    np.testing.assert_allclose(figure.data[0].y, history)
    assert "accuracy vs params" in figure.layout.title.text


@pytest.mark.parametrize("space", [NB201Space(channels=4, cells=1), DartsSpace()])
def test_cells_are_drawn_for_both_spaces(space):
    archs = [(f"trial {i}", space.sample(i)) for i in range(3)]
    figure = draw_cells(archs)
    cells_per_arch = 2 if isinstance(space, DartsSpace) else 1
    assert len(figure.axes) == 3 * cells_per_arch
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")


def test_the_report_lands_in_the_study_once_per_front(tmp_path):
    store = FileSystemArtifactStore(str(tmp_path))
    study = create_study(["error", "params"])
    _add(study, [0.3, 100], SPACE.sample(0))
    _add(study, [0.2, 200], SPACE.sample(1))
    first = save_study_report(study, store)
    graphs = get_plotly_graph_objects(_system_attrs(study))
    assert json.loads(graphs[HYPERVOLUME_PLOT])["layout"]["title"]["text"].startswith("Hypervolume")
    (meta,) = get_all_artifact_meta(study)
    assert meta.artifact_id == first and meta.mimetype == "image/png"
    assert (tmp_path / first).read_bytes().startswith(b"\x89PNG")
    assert study.user_attrs[BEST_CELLS] == {"trials": [1, 0], "artifact_id": first}
    # The same front: nothing new uploaded. A new Pareto-optimal trial: a new picture.
    assert save_study_report(study, store) == first and len(get_all_artifact_meta(study)) == 1
    _add(study, [0.1, 50], SPACE.sample(2))
    assert save_study_report(study, store) not in (first, None)
    assert study.user_attrs[BEST_CELLS]["trials"] == [2]


def test_no_report_for_single_objective_or_empty_studies(tmp_path):
    assert save_study_report(create_study(["error", "params"])) is None
    study = create_study(["error"])
    _add(study, [0.3], SPACE.sample(0))
    assert save_study_report(study, FileSystemArtifactStore(str(tmp_path))) is None
    # The trial's note and picture, and nothing of the multi-objective report.
    number = study.trials[0]._trial_id
    written = sorted(k for k in _system_attrs(study) if k.startswith(("dashboard:", "artifacts:")))
    assert [k.rsplit(":", 1)[0] for k in written] == [
        f"dashboard:{number}:note_str",
        f"dashboard:{number}",
        f"dashboard:artifacts:{number}",
    ]


def _system_attrs(study):
    return study._storage.get_study_system_attrs(study._study_id)
