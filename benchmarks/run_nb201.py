"""Compare multi-objective samplers on the NAS-Bench-201 table (error vs. model size/latency).

Run: ``python -m benchmarks.run_nb201 [--samplers random,tpe,...] [--seeds 10]
[--seeds-for gp=3] [--budgets 25,50,100,200] [--cost model_size,latency]
[--dataset cifar10] [--in-flight 4 --in-flight-samplers lemonade,nao]
[--out benchmarks/results/nb201_cifar10.md]``

Every sampler x seed x cost runs for the largest budget of error-objective calls; the
hypervolume ratio (see :mod:`benchmarks.nb201_table`) is read off after the first N calls
for each budget N. Archai's searchers run only where ``archai`` is importable, pymoo's only
where ``pymoo`` is (see :mod:`benchmarks.nb201_peers`). With ``--in-flight K`` the
``--in-flight-samplers`` also run with K trials pending at every ask
(:func:`benchmarks.nb201_table.run_in_flight`), reported in a "parallel quality" table.
"""

from __future__ import annotations

import os

# One BLAS thread per search process (set before NumPy loads): the workers already
# fill the cores, and oversubscribed GP fits ran 4x slower.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import datetime
import importlib.util
import multiprocessing
import shlex
import sys
import time
from collections.abc import Sequence

import optuna

from benchmarks.nb201_peers import (
    DISTINCT,
    OPTUNA_PEERS,
    PYMOO_PEERS,
    SamplerFactory,
    pymoo_available,
    run_distinct,
    run_pymoo,
)
from benchmarks.nb201_report import to_markdown
from benchmarks.nb201_table import (
    COSTS,
    NB201Table,
    create_study,
    hv_ratios,
    make_objective,
    run_in_flight,
)
from optuna_nas.lemonade import LemonadeSampler
from optuna_nas.nao import NAOSampler

#: Optuna samplers by name: ``factory(table, seed)``. Add one line per new sampler, e.g.
#: ``"name": lambda table, seed: Sampler(table.space, seed=seed)`` (the table gives the cost too).
SAMPLERS: dict[str, SamplerFactory] = {
    "random": lambda table, seed: optuna.samplers.RandomSampler(seed=seed),
    "tpe": lambda table, seed: optuna.samplers.TPESampler(seed=seed),
    "nsga2": lambda table, seed: optuna.samplers.NSGAIISampler(seed=seed),
    "nsga2-pop20": lambda table, seed: optuna.samplers.NSGAIISampler(population_size=20, seed=seed),
    **OPTUNA_PEERS,  # tpe-mv, gp
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
#: Every searcher name the harness knows.
ALL_SAMPLERS = (*SAMPLERS, *DISTINCT, *PYMOO_PEERS, *ARCHAI_SAMPLERS)
BUDGETS = (25, 50, 100, 200)
#: Name prefixes of the slowest searchers, slowest first: their runs are started first.
_SLOW = ("nao", "gp", "lemonade", "tpe")


def archai_available() -> bool:
    """Whether the Archai peers can run in this interpreter."""
    return importlib.util.find_spec("archai") is not None


def run_search(
    name: str, seed: int, cost: str, budget: int, dataset: str = "cifar10", in_flight: int = 1
) -> tuple[NB201Table, int]:
    """Run one search for ``budget`` error calls.

    Parameters
    ----------
    name:
        One of :data:`ALL_SAMPLERS`.
    seed:
        Seed of the sampler and of the table's evaluation noise.
    cost:
        ``"model_size"`` or ``"latency"``.
    budget:
        Number of calls of the error objective (for :data:`~benchmarks.nb201_peers.DISTINCT`:
        of distinct architectures).
    dataset:
        NAS-Bench-201 dataset.
    in_flight:
        Trials pending at every ask (a key of :data:`SAMPLERS` only); 1 is sequential.

    Returns
    -------
    tuple of NB201Table and int
        The table, whose ``calls`` lists the evaluated architectures in order, and the
        number of proposals the search made (repeats that were not evaluated included).
    """
    if in_flight != 1 and name not in SAMPLERS:
        raise ValueError(
            f"in_flight={in_flight} needs an Optuna sampler; {name!r} is not one of {list(SAMPLERS)}."
        )
    table = NB201Table(dataset, cost, seed=seed)
    proposals = None
    if name in ARCHAI_SAMPLERS:
        if not archai_available():
            raise ImportError(
                f"{name} needs Archai: pip install archai==1.0.0 pandas (see benchmarks/README.md)."
            )
        from benchmarks.archai_nb201 import run_archai

        run_archai(name, table, seed, budget)
    elif name in PYMOO_PEERS:
        run_pymoo(name, table, seed, budget)
    elif name in SAMPLERS or name in DISTINCT:
        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            if name in DISTINCT:
                base, cached = DISTINCT[name]
                study = run_distinct(table, SAMPLERS[base](table, seed), budget, cached=cached)
                proposals = len(study.trials)
            elif in_flight > 1:
                run_in_flight(table, SAMPLERS[name](table, seed), budget, in_flight)
            else:
                study = create_study(table, SAMPLERS[name](table, seed))
                study.optimize(make_objective(table), n_trials=budget)
        finally:
            optuna.logging.set_verbosity(verbosity)
    else:
        raise KeyError(f"unknown sampler {name!r}; known: {list(ALL_SAMPLERS)}")
    return table, proposals or len(table.calls)


def run_one(
    name: str, seed: int, cost: str, budget: int, dataset: str = "cifar10", in_flight: int = 1
) -> list[float]:
    """Hypervolume ratios of one search, a quick check for tests.

    Returns
    -------
    list of float
        The ratio at each of :data:`BUDGETS` below ``budget``, then at ``budget``.
    """
    table, _ = run_search(name, seed, cost, budget, dataset, in_flight)
    return hv_ratios(table, table.calls, [b for b in BUDGETS if b < budget] + [budget])


def run_task(args: tuple[str, int, str, tuple[int, ...], str, int]) -> dict:
    """One row of the report: ``(name, seed, cost, budgets, dataset, in_flight)`` -> scores."""
    name, seed, cost, budgets, dataset, in_flight = args
    start = time.perf_counter()
    table, proposals = run_search(name, seed, cost, max(budgets), dataset, in_flight)
    calls = table.calls[: max(budgets)]
    return {
        "name": name,
        "cost": cost,
        "seed": seed,
        "in_flight": in_flight,
        "hv": hv_ratios(table, calls, budgets),
        "calls": len(calls),
        "proposals": proposals,
        "distinct_fp": len({table.space.from_nb201_string(s).fingerprint for s in calls}),
        "distinct_str": len(set(calls)),
        "seconds": time.perf_counter() - start,
    }


def _parse_seeds_for(text: str, parser: argparse.ArgumentParser) -> dict[str, int]:
    seeds = {}
    for item in filter(None, text.split(",")):
        name, _, n = item.partition("=")
        if name not in ALL_SAMPLERS or not n.isdigit() or int(n) < 1:
            parser.error(
                f"--seeds-for: {item!r} is not NAME=N with N >= 1 and NAME one of "
                f"{list(ALL_SAMPLERS)}; e.g. --seeds-for gp=3"
            )
        seeds[name] = int(n)
    return seeds


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samplers", default=",".join(ALL_SAMPLERS), help="comma-separated names")
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 per sampler and cost")
    parser.add_argument(
        "--seeds-for", default="", help="fewer seeds for slow samplers, e.g. gp=3,nao=5"
    )
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS)))
    parser.add_argument("--cost", default=",".join(COSTS), help="comma-separated cost objectives")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument(
        "--in-flight", type=int, default=1, help="K > 1: also run with K trials pending"
    )
    parser.add_argument("--in-flight-samplers", default="lemonade,nao")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", default=None, help="also write the markdown report here")
    args = parser.parse_args(argv)
    args.budgets = sorted(int(b) for b in args.budgets.split(","))
    args.cost = args.cost.split(",")
    args.seeds_for = _parse_seeds_for(args.seeds_for, parser)
    args.in_flight_samplers = args.in_flight_samplers.split(",") if args.in_flight > 1 else []
    if args.in_flight < 1:
        parser.error(f"--in-flight must be at least 1, got {args.in_flight}")
    names = args.samplers.split(",")
    unknown = [n for n in names if n not in ALL_SAMPLERS]
    if unknown:
        parser.error(f"unknown samplers {unknown}; known: {list(ALL_SAMPLERS)}")
    not_optuna = [n for n in args.in_flight_samplers if n not in SAMPLERS]
    if not_optuna:
        parser.error(f"--in-flight-samplers {not_optuna} are not Optuna samplers: {list(SAMPLERS)}")
    # The parallel table compares with the sequential runs, so those run too.
    names += [n for n in args.in_flight_samplers if n not in names]
    skipped = [n for n in names if n in ARCHAI_SAMPLERS and not archai_available()]
    skipped += [n for n in names if n in PYMOO_PEERS and not pymoo_available()]
    if skipped:
        print(
            f"Skipping {skipped}: archai or pymoo is not importable here; see benchmarks/README.md.",
            file=sys.stderr,
        )
        names = [n for n in names if n not in skipped]

    tasks = [
        (n, s, c, tuple(args.budgets), args.dataset, f)
        for f in sorted({1, args.in_flight})
        for n in (names if f == 1 else args.in_flight_samplers)
        for c in args.cost
        for s in range(args.seeds_for.get(n, args.seeds))
    ]  # fmt: skip
    # Slowest samplers first, so the workers finish together.
    tasks.sort(key=lambda t: next((i for i, p in enumerate(_SLOW) if t[0].startswith(p)), 9))
    start = time.perf_counter()
    results = []
    with multiprocessing.Pool(args.workers) as pool:
        for r in pool.imap_unordered(run_task, tasks):
            results.append(r)
            hv = " ".join(f"{v:.3f}" for v in r["hv"])
            print(
                f"[{len(results)}/{len(tasks)}] {r['name']} x{r['in_flight']} {r['cost']} "
                f"seed {r['seed']}: HV {hv} ({r['seconds']:.1f} s)",
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
