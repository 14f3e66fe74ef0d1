"""What LEMONADE would propose next, replayed on a finished study.

For each ``k`` in ``--at``, the study's first ``k`` completed trials are copied into an
in-memory study (its user attrs too: the space, the input shape, whether children
inherit), and a fresh ``LemonadeSampler`` (seeds ``0..--seeds-1``) asks for one child.
Nothing is trained: the table says which parent each ask drew and what child it made,
so a change to how parents or children are chosen can be judged on the same history
before spending a real search on it. The figure that matters for a front that spans
the space: how often the front's largest parent gets a child larger than itself.

    python -m benchmarks.lemonade_decisions --storage sqlite:///optuna_nas.db --at 12,14,16,18
"""

from __future__ import annotations

import argparse
import collections
import datetime

import optuna

from benchmarks._report import emit, machine
from optuna_nas import DartsSpace, NB201Space
from optuna_nas.objectives import count_params
from optuna_nas.samplers import make_sampler
from optuna_nas.search import pareto_indices
from optuna_nas.storage import keys


def recorded_space(study: optuna.Study) -> NB201Space | DartsSpace:
    """The space an ``optuna-nas search`` recorded in the study's settings."""
    settings = study.user_attrs.get(keys.SEARCH_SETTINGS)
    if not settings:
        raise SystemExit(f"study {study.study_name!r} was not made by 'optuna-nas search'.")
    if settings["space"] == "nb201":
        return NB201Space(channels=settings["channels"], cells=settings["cells"])
    return DartsSpace(channels=settings["channels"], cells=settings["cells"],
                      nodes=settings["nodes"])  # fmt: skip


def replay(study: optuna.Study, k: int, seed: int, n_initial: int) -> tuple[int | None, str, int]:
    """``(parent trial, operators, child params)`` of one ask after the first ``k`` trials."""
    space = recorded_space(study)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE][:k]
    copy = optuna.create_study(directions=study.directions)
    for key, value in study.user_attrs.items():
        copy.set_user_attr(key, value)
    copy.add_trials(done)
    copy.sampler = make_sampler("lemonade", space, seed, n_initial)
    trial = copy.ask()
    child = space.suggest(trial)
    attrs = copy.trials[-1].system_attrs
    shape = tuple(study.user_attrs.get(keys.STUDY_INPUT_SHAPE, (3, 32, 32)))
    classes = study.user_attrs.get(keys.STUDY_NUM_CLASSES, 10)
    return (attrs.get(keys.PARENT_TRIAL), attrs.get(keys.OPERATOR, "random"),
            count_params(child, shape, classes))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", required=True)
    parser.add_argument("--study-name", default=None)
    parser.add_argument("--at", default="12,14,16,18", help="completed trials before the ask")
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--n-initial", type=int, default=None, help="default: the search's")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=args.study_name, storage=args.storage)
    recorded_space(study)  # a study this cannot replay is named before any ask
    n_initial = args.n_initial or study.user_attrs[keys.SEARCH_SETTINGS].get("n_initial")
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    params = {t.number: int(t.values[1]) for t in complete}
    lines = [
        "# LEMONADE's next child, replayed on a finished study",
        "",
        f"- command: `python -m benchmarks.lemonade_decisions --storage {args.storage} "
        f"--at {args.at} --seeds {args.seeds}`",
        f"- machine: {machine()}; date: {datetime.date.today().isoformat()}",
        "",
        "| completed | front's largest (params) | asks drawing it | its children larger "
        "| children (parent: params x count) |",
        "|---|---|---|---|---|",
    ]
    for k in (int(x) for x in args.at.split(",")):
        front = [complete[i] for i in pareto_indices(study, complete[:k])]
        largest = max(front, key=lambda t: t.values[1])
        asks = [replay(study, k, seed, n_initial) for seed in range(args.seeds)]
        own = [p for parent, _, p in asks if parent == largest.number]
        counts = collections.Counter((parent, p) for parent, _, p in asks)
        listed = ", ".join(f"{parent}: {p:,} x{n}" for (parent, p), n in sorted(
            counts.items(), key=lambda item: (-item[1], str(item[0][0]))))  # fmt: skip
        lines.append(f"| {k} | {largest.number} ({params[largest.number]:,}) | {len(own)} "
                     f"| {sum(p > params[largest.number] for p in own)} | {listed} |")  # fmt: skip
    emit(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
