"""Time the cheap objectives on random architectures.

Run: ``python -m benchmarks.cheap_objectives [--n 1000] [--out benchmarks/results/cheap_objectives.md]``

Each count starts from a cold unit cache in a fresh process, so the first
architectures pay for measuring every distinct op once on the ``meta`` device.
"""

from __future__ import annotations

import argparse
import datetime
import time

import numpy as np
import torch

from benchmarks._report import emit, machine
from optuna_nas import DartsSpace, NB201Space
from optuna_nas.objectives import count_flops, count_network, count_params, measure_latency


def _time(fn, archs) -> float:  # noqa: ANN001
    start = time.perf_counter()
    for arch in archs:
        fn(arch)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="architectures per space")
    parser.add_argument("--latency-n", type=int, default=20, help="architectures timed for latency")
    parser.add_argument("--out", default=None, help="also write the markdown table here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)

    rows = []
    for space in (NB201Space(), DartsSpace()):
        archs = [space.sample(rng) for _ in range(args.n)]
        cold = _time(lambda a: (count_params(a), count_flops(a)), archs)
        warm = _time(lambda a: (count_params(a), count_flops(a)), archs)
        ref_n = max(1, args.n // 50)
        reference = _time(count_network, archs[:ref_n]) * args.n / ref_n
        latency = _time(measure_latency, archs[: args.latency_n]) / args.latency_n
        rows.append((repr(space), cold, warm, reference, latency))

    lines = [
        f"Cheap objectives on {args.n} random architectures per space "
        "(params + FLOPs for 3x32x32 input, 10 classes).",
        "",
        f"- command: `python -m benchmarks.cheap_objectives --n {args.n}`",
        f"- machine: {machine()}, "
        f"{torch.get_num_threads()} torch thread(s), "
        f"torch {torch.__version__}",
        f"- date: {datetime.date.today().isoformat()}",
        "",
        f"| space | params+FLOPs, cold cache (s / {args.n}) | warm cache (s / {args.n}) | "
        f"full meta-device build, extrapolated (s / {args.n}) | latency, one arch (s) |",
        "|---|---|---|---|---|",
    ]
    for space, cold, warm, reference, latency in rows:
        lines.append(f"| {space} | {cold:.3f} | {warm:.3f} | {reference:.1f} | {latency:.3f} |")
    emit(lines, args.out)


if __name__ == "__main__":
    main()
