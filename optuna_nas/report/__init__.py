"""Reports for optuna-dashboard: trial notes, lineage and hypervolume plots, cell pictures."""

from optuna_nas.report._cells import draw_cells
from optuna_nas.report._hypervolume import hypervolume_history, plot_hypervolume_history
from optuna_nas.report._lineage import Edge, front_numbers, lineage_edges, plot_lineage
from optuna_nas.report._notes import save_trial_notes, trial_note
from optuna_nas.report._study import BEST_CELLS, HYPERVOLUME_PLOT, LINEAGE_PLOT, save_study_report

__all__ = [
    "BEST_CELLS",
    "HYPERVOLUME_PLOT",
    "LINEAGE_PLOT",
    "Edge",
    "draw_cells",
    "front_numbers",
    "hypervolume_history",
    "lineage_edges",
    "plot_hypervolume_history",
    "plot_lineage",
    "save_study_report",
    "save_trial_notes",
    "trial_note",
]
