import json

import pytest
from optuna.trial import TrialState, create_trial
from optuna_dashboard._custom_plot_data import get_plotly_graph_objects

from optuna_nas import create_study
from optuna_nas.report import (
    LINEAGE_PLOT,
    Edge,
    front_numbers,
    lineage_edges,
    plot_lineage,
    save_study_report,
)
from optuna_nas.storage import keys, study_system_attrs


def _add(study, values, parent=None, operator=None, state=TrialState.COMPLETE):
    system = {} if parent is None else {keys.PARENT_TRIAL: parent, keys.OPERATOR: operator}
    study.add_trial(create_trial(state=state, values=values, system_attrs=system))


def _by_hand(directions=("error", "params")):
    study = create_study(list(directions))
    two = len(directions) == 2
    _add(study, [0.5, 10] if two else [0.5])
    _add(study, [0.4, 20] if two else [0.4], parent=0, operator="add_skip")
    _add(study, [0.6, 30] if two else [0.6], parent=0, operator="widen+cheapen")
    _add(study, [0.3, 40] if two else [0.3], parent=1, operator="enlarge_kernel")
    _add(study, None, parent=3, operator="activate_edge", state=TrialState.FAIL)
    return study


def test_lineage_by_hand():
    study = _by_hand()
    assert lineage_edges(study) == [
        Edge(0, 1, "add_skip"),
        Edge(0, 2, "widen+cheapen"),
        Edge(1, 3, "enlarge_kernel"),
        Edge(3, 4, "activate_edge"),
    ]
    assert front_numbers(study) == {0, 1, 3}
    lines, dominated, front = plot_lineage(study).data
    # The failed child has no values: its edge is not drawn.
    assert list(lines.x) == [0, 1, None, 0, 2, None, 1, 3, None]
    assert list(lines.y) == [0.5, 0.4, None, 0.5, 0.6, None, 0.4, 0.3, None]
    assert list(front.x) == [0, 1, 3] and list(front.y) == [0.5, 0.4, 0.3]
    assert list(front.marker.symbol) == ["diamond", "circle", "circle"]  # diamond: no parent
    assert list(dominated.x) == [2]
    assert "child of 0 by widen+cheapen" in dominated.text[0]
    assert "error=0.6, params=30" in dominated.text[0]


def test_a_single_objective_front_is_its_best_trial():
    study = _by_hand(("error",))
    assert front_numbers(study) == {3}
    _, dominated, front = plot_lineage(study).data
    assert list(front.x) == [3] and list(dominated.x) == [0, 1, 2]


@pytest.mark.parametrize("with_parents", [True, False])
def test_the_lineage_plot_is_saved_only_where_a_sampler_recorded_parents(with_parents):
    study = create_study(["error", "params"])
    _add(study, [0.5, 10])
    _add(study, [0.4, 20], parent=0 if with_parents else None, operator="add_skip")
    save_study_report(study)
    assert (LINEAGE_PLOT in get_plotly_graph_objects(study_system_attrs(study))) == with_parents


def test_the_lineage_of_a_real_search(lemonade_search):
    study = lemonade_search.study
    edges = lineage_edges(study)
    assert edges and all(e.parent < e.child for e in edges)
    # The sampler's record (system attrs) and NASObjective's (user attrs) agree.
    for edge in edges:
        child = study.trials[edge.child].user_attrs
        assert (child["parent_trial"], child["operator"]) == (edge.parent, edge.operator)
    save_study_report(study, lemonade_search.store)
    figure = json.loads(get_plotly_graph_objects(study_system_attrs(study))[LINEAGE_PLOT])
    lines, dominated, front = figure["data"]
    assert lines["x"] == [n for e in edges for n in (e.parent, e.child, None)]
    assert sorted(front["x"]) == sorted(t.number for t in study.best_trials)
    assert sorted(front["x"] + dominated["x"]) == [t.number for t in study.trials]
