"""Time NAOSampler adds per trial (EPD training amortised + proposal), CPU.

Run: ``python -m benchmarks.nao_overhead [--sizes 100,500,2000] [--trials 20]
[--spaces nb201,darts] [--threads 1] [--out benchmarks/results/nao_overhead.md]``

Each study is filled with ``N`` completed random architectures (NB201: error and
model_size from the NAS-Bench-201 table; DARTS: a random error and the parameter count),
then a fresh :class:`~optuna_nas.nao.NAOSampler` with its default settings runs
``max(--trials, N / 10)`` more trials through ``study.ask`` / ``study.tell``:

- first ask: the EPD is trained from scratch on the ``N`` trials (a new worker or a
  restarted process);
- per trial: the mean ask time over the following trials, i.e. the warm-started refits
  (one after max(``retrain_every``, N / 10) newly completed trials, so at least one
  falls in the window) amortised plus the proposal itself, split into the two.

A trial of the README's quick start trains for about 20-30 s on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import datetime
import time

import numpy as np
import optuna
import torch
from optuna.trial import create_trial

# The timer replaces ``fit_epd`` where NAOSampler looks it up: its module (the one
# private import here; the function itself is public as ``optuna_nas.nao.fit_epd``).
import optuna_nas.nao._sampler as nao_sampler
from benchmarks._report import emit, machine
from benchmarks.nb201_table import NB201Table
from optuna_nas import DartsSpace
from optuna_nas.nao import NAOSampler
from optuna_nas.objectives import count_params


class _FitTimer:
    """Wraps the sampler module's ``fit_epd`` to add up the time spent training."""

    def __init__(self) -> None:
        self.seconds, self.calls = 0.0, 0
        self._fit = nao_sampler.fit_epd

    def __call__(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN204
        start = time.perf_counter()
        try:
            return self._fit(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1


def _problem(space_name: str):  # noqa: ANN202
    """``(space, evaluate, cheap objective name, cheap objective)`` of a benchmark space."""
    if space_name == "nb201":
        table = NB201Table("cifar10", "model_size", seed=0)
        return table.space, table.evaluate, "model_size", table.cost
    space, rng = DartsSpace(), np.random.default_rng(0)
    return space, lambda a: (float(rng.uniform(0.05, 0.5)), count_params(a)), "params", count_params


def measure(space_name: str, n: int, trials: int) -> dict:
    space, evaluate, cost_name, cost = _problem(space_name)
    rng = np.random.default_rng(n)
    dists = space.distributions()
    study = optuna.create_study(
        directions=["minimize", "minimize"],
        sampler=NAOSampler(space, cheap_objectives={cost_name: cost}, seed=0),
    )
    study.set_metric_names(["error", cost_name])
    archs = [space.sample(rng) for _ in range(n)]
    study.add_trials(
        [
            create_trial(params=space.to_params(a), distributions=dists, values=list(evaluate(a)))
            for a in archs
        ]
    )
    # Enough trials for at least one refit: NAOSampler refits after max(retrain_every,
    # 10% of the fitted trials) new ones, so at 2,000 trials the 20 default asks have none.
    trials = max(trials, NAOSampler(space)._retrain_every, n // 10)
    timer = nao_sampler.fit_epd = _FitTimer()
    try:
        times = []
        for _ in range(trials + 1):
            start = time.perf_counter()
            trial = study.ask(dists)
            times.append(time.perf_counter() - start)
            if len(times) == 1:
                first_fit, timer.seconds, timer.calls = timer.seconds, 0.0, 0
            study.tell(trial, list(evaluate(space.from_params(trial.params))))
    finally:
        nao_sampler.fit_epd = timer._fit
    warm = float(np.mean(times[1:]))
    return {
        "trials": trials,
        "first": times[0],
        "first_fit": first_fit,
        "warm": warm,
        "fit": timer.seconds / trials,
        "refits": timer.calls,
        "propose": warm - timer.seconds / trials,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,500,2000")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--spaces", default="nb201,darts")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(args.threads)
    defaults = NAOSampler(DartsSpace())
    lines = [
        "# NAOSampler overhead per trial (CPU, in-memory storage, 2 objectives)",
        "",
        f"- command: `python -m benchmarks.nao_overhead --sizes {args.sizes} --trials "
        f"{args.trials} --spaces {args.spaces} --threads {args.threads}`",
        f"- machine: {machine()}, {args.threads} torch thread(s); "
        f"date: {datetime.date.today().isoformat()}",
        f"- NAOSampler defaults: refit after max({defaults._retrain_every}, 10% of the fitted) "
        f"newly completed trials; from scratch {nao_sampler.STEPS_PER_ARCHITECTURE} Adam steps per "
        f"evaluated architecture (50 to {defaults._max_steps}), beyond that warm refits of "
        f"{defaults._max_steps // 6} steps; {defaults._n_candidates} candidates decoded per "
        f"proposal ({'with' if defaults._alternatives else 'without'} each decoding's "
        f"single-position alternatives), scored by scorer={defaults._scorer!r}",
        "- first ask: EPD trained from scratch on the N trials (new worker / restart); "
        f"per trial: mean over the next max({args.trials}, N / 10) trials (at least one "
        "refit) = refits amortised + proposal",
        "",
        "| space | completed trials | first ask (s) | of which fit (s) | per trial (s) | "
        "refits amortised (s) | proposal (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for space_name in args.spaces.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            r = measure(space_name, n, args.trials)
            lines.append(
                f"| {space_name} | {n} | {r['first']:.2f} | {r['first_fit']:.2f} | "
                f"{r['warm']:.2f} | {r['fit']:.2f} ({r['refits']} in {r['trials']} trials) | {r['propose']:.2f} |"
            )
            print(lines[-1], flush=True)
    emit(lines, args.out)


if __name__ == "__main__":
    main()
