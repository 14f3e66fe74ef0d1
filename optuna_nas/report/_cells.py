"""Pictures of cells: each node a circle, each op an arrow labelled with its name."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from optuna_nas.encoding import Architecture, Cell

_RAD = -0.45  # arc curvature: every edge bows upwards, longer edges higher
_INCH = 1.0  # inches between neighbouring nodes


def draw_cells(cells: Sequence[tuple[str, Architecture]]) -> Figure:
    """One row per architecture (its normal and, for DARTS, reduction cell), titled.

    Parameters
    ----------
    cells:
        ``(title, architecture)`` pairs, e.g. ``("trial 12: error=0.21", arch)``.
    """
    columns = max(len(list(arch.cells_by_name())) for _, arch in cells)
    nodes = max(len(arch.normal) + arch.rule.n_inputs + 1 for _, arch in cells)
    height = -_RAD * 0.5 * (nodes - 1) + 0.6  # of the longest arc, in node spacings
    # A bare Figure (no pyplot): no global state, no display, nothing to close.
    figure = Figure(
        figsize=(0.5 + _INCH * nodes * columns, (_INCH * height + 0.5) * len(cells) + 0.4)
    )
    axes = figure.subplots(len(cells), columns, squeeze=False)
    ops = sorted({op for _, arch in cells for _, cell in arch.cells_by_name() for node in cell
                  for op, _ in node if op != "none"})  # fmt: skip
    palette = matplotlib.colormaps["tab10"]
    colours = {op: palette(i % 10) for i, op in enumerate(ops)}
    for row, (title, arch) in zip(axes, cells, strict=True):
        for ax, (name, cell) in zip(row, arch.cells_by_name(), strict=False):
            _draw_cell(ax, arch, cell, colours)
            ax.set_title(f"{title}\n{name} cell" if arch.reduce is not None else title, fontsize=9)
        for ax in row:
            ax.set_axis_off()
    handles = [Line2D([], [], color=c, lw=2, label=op) for op, c in colours.items()]
    figure.legend(handles=handles, loc="lower center", ncol=min(len(handles), 5), fontsize=8,
                  frameon=False)  # fmt: skip
    figure.tight_layout(rect=(0, 0.4 / figure.get_figheight(), 1, 1))
    return figure


def _draw_cell(ax: Axes, arch: Architecture, cell: Cell, colours: dict) -> None:
    n_inputs = arch.rule.n_inputs
    labels = ["in"] if n_inputs == 1 else [f"k-{n_inputs - i}" for i in range(n_inputs)]
    labels += [str(k) for k in range(1, len(cell) + 1)]
    if arch.rule.concat_output:
        labels.append("out")
    else:
        labels[-1] = "out"
    for target, node in enumerate(cell, start=n_inputs):
        for op, source in node:
            if op != "none":
                _arc(ax, source, target, colours[op], op)
    if arch.rule.concat_output:  # the output concatenates every intermediate node
        for source in range(n_inputs, n_inputs + len(cell)):
            _arc(ax, source, len(labels) - 1, "0.6", None, style="dashed")
    for x, label in enumerate(labels):
        ax.annotate(label, (x, 0), ha="center", va="center", fontsize=8,
                    bbox={"boxstyle": "circle,pad=0.3", "fc": "white", "ec": "0.2"})  # fmt: skip
    height = -_RAD * 0.5 * (len(labels) - 1)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_ylim(-0.3, height + 0.3)
    ax.set_aspect("equal")


def _arc(ax: Axes, source: int, target: int, colour, label: str | None, style="solid"):  # noqa: ANN001
    ax.annotate("", xy=(target, 0), xytext=(source, 0),
                arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.5, "linestyle": style,
                            "connectionstyle": f"arc3,rad={_RAD}", "shrinkA": 9, "shrinkB": 9})  # fmt: skip
    if label is not None:  # at the top of the quadratic Bezier arc
        y = -_RAD * 0.5 * (target - source)
        ax.text((source + target) / 2, y, label, ha="center", va="center", fontsize=6,
                color=colour, bbox={"fc": "white", "ec": "none", "pad": 0.5})  # fmt: skip
