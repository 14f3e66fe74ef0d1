"""Reports for optuna-dashboard: hypervolume history and pictures of the best cells."""

from optuna_nas.report._cells import draw_cells
from optuna_nas.report._hypervolume import hypervolume_history, plot_hypervolume_history
from optuna_nas.report._study import BEST_CELLS, HYPERVOLUME_PLOT, save_study_report

__all__ = [
    "BEST_CELLS",
    "HYPERVOLUME_PLOT",
    "draw_cells",
    "hypervolume_history",
    "plot_hypervolume_history",
    "save_study_report",
]
