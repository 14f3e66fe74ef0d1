"""Peak training memory per image: the TND-NAS supernet against one of its sub-networks.

Run: ``python -m benchmarks.tnd_memory [--batches 16,48] [--device cpu|cuda] [--out FILE]``

One training step (forward, backward, SGD step) per measurement, each in a fresh
process. CPU: the peak resident set size of the step (``VmHWM`` after resetting it
through ``/proc/self/clear_refs``, after a warm-up step that allocated the gradients)
minus the resident size before it. CUDA: ``torch.cuda.max_memory_allocated`` over
the step minus the allocation before it. Memory per image is the slope between two
batch sizes, so what does not grow with the batch (weights, gradients) cancels.

Networks: the NAS-Bench-201 network (16 channels, 5 cells per stage) and the DARTS
search network (16 channels, 8 layers, 4 nodes), both on 3x32x32 images. Modes: the
supernet's weighted mixture with every op (stage 1) and after shrinking to the last
stage's ops, the supernet running one sub-architecture, and that sub-architecture
built on its own (``space.build``). The sub-architecture is the heaviest one of the
space (every edge the most expensive op), the worst case for the ratio.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import subprocess
import sys

import torch
import torch.nn.functional as F

from benchmarks._report import emit, machine
from optuna_nas import DartsSpace, NB201Space
from optuna_nas.tnd import ArchitectureDistribution, build_supernet

# (space, the heaviest op, the ops a shrunk search space keeps: the most expensive ones)
SPACES = {
    "nb201": (NB201Space(channels=16, cells=5), "nor_conv_3x3", ("nor_conv_3x3", "nor_conv_1x1")),
    "darts": (DartsSpace(channels=16, cells=2, nodes=4), "sep_conv_5x5",
              ("sep_conv_5x5", "sep_conv_3x3", "dil_conv_5x5")),
}  # fmt: skip
MODES = ("mixture, all ops", "mixture, shrunk", "supernet, one path", "built sub-network")
SHAPE = (3, 32, 32)


def heaviest(space, op):  # noqa: ANN001, ANN201
    params = {name: op if op in d.choices else d.choices[0]
              for name, d in space.distributions().items()}  # fmt: skip
    return space.from_params(params)


def build(kind: str, mode: str) -> torch.nn.Module:
    space, op, keep = SPACES[kind]
    arch = heaviest(space, op)
    if mode == "built sub-network":
        return space.build(arch, SHAPE[0], 10)
    supernet = build_supernet(space, SHAPE[0], 10)
    if mode == "supernet, one path":
        return supernet.select(arch)
    dist = ArchitectureDistribution(space)
    if mode == "mixture, shrunk":
        dist = ArchitectureDistribution(
            space, logits={name: {k: 1.0 for k in keep} for name, d in dist.decisions.items()
                           if d.source is not None})  # fmt: skip
        dist.shrink(len(keep))
    return supernet.mix(dist.mixture())


def _vm_hwm() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM"))


def _vm_rss() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS"))


def measure_one(kind: str, mode: str, batch: int, device: str) -> int:
    """Bytes a training step at ``batch`` images needs beyond what was allocated before it."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build(kind, mode).to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, *SHAPE, device=device)
    y = torch.randint(0, 10, (batch,), device=device)

    def step(n: int) -> None:
        loss = F.cross_entropy(model(x[:n]), y[:n])
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        optimizer.step()

    step(2)  # gradients and momentum buffers now exist: they are not per-image memory
    gc.collect()
    if device == "cuda":
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        step(batch)
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    before = _vm_rss()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak resident size to the current one
    step(batch)
    return _vm_hwm() - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="8,24")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--out", default=None)
    parser.add_argument(
        "--one", nargs=3, metavar=("SPACE", "MODE", "BATCH"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.one:
        kind, mode, batch = args.one
        print(json.dumps(measure_one(kind, MODES[int(mode)], int(batch), args.device)))
        return
    small, large = (int(b) for b in args.batches.split(","))
    lines = [
        "# Training memory per image: TND-NAS supernet vs one sub-network",
        "",
        f"- command: `python -m benchmarks.tnd_memory --batches {args.batches} --device {args.device}`",
        f"- machine: {machine()}; device: {args.device}; torch {torch.__version__}; "
        f"date: {datetime.date.today().isoformat()}",
        "- one SGD training step per fresh process; per image = slope between batch "
        f"{small} and {large}; input 3x32x32; fp32, 1 thread",
        "- sub-network: the heaviest of the space (NB201: every edge `nor_conv_3x3`; DARTS: "
        "every edge `sep_conv_5x5`), so the ratios are a lower bound; the shrunk mixture keeps "
        "the most expensive ops (NB201: 2 of 5, both convs; DARTS: 3 of 8, sep 5x5, sep 3x3, "
        "dil 5x5), the last stage of the default search",
        "- MiB for the step: memory the step at the larger batch needed beyond what was "
        "allocated before it (activations, autograd buffers, temporaries)",
        "",
        f"| network | mode | MiB / image | x sub-network | MiB for the step at batch {large} |",
        "|---|---|---|---|---|",
    ]
    for kind in SPACES:
        per_image = {}
        peaks = {}
        for index, mode in enumerate(MODES):
            used = []
            for batch in (small, large):
                done = subprocess.run(
                    [sys.executable, "-m", "benchmarks.tnd_memory", "--device", args.device,
                     "--one", kind, str(index), str(batch)],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                used.append(json.loads(done.stdout.strip().splitlines()[-1]))
            per_image[mode] = (used[1] - used[0]) / (large - small)
            peaks[mode] = used[1]
            print(kind, mode, used, flush=True)
        base = per_image["built sub-network"]
        for mode in MODES:
            lines.append(
                f"| {kind} | {mode} | {per_image[mode] / 2**20:.2f} | "
                f"{per_image[mode] / base:.2f} | {peaks[mode] / 2**20:.0f} |"
            )
    emit(lines, args.out)


if __name__ == "__main__":
    main()
