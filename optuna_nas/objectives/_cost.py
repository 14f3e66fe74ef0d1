"""Costs computed from the architecture alone: parameters, FLOPs, MACs, latency."""

from __future__ import annotations

import functools
import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from optuna_nas.encoding import Architecture
from optuna_nas.networks import CostUnit, build_network, network_class

InputShape = tuple[int, int, int]


def count_params(
    arch: Architecture, input_shape: InputShape = (3, 32, 32), num_classes: int = 10
) -> int:
    """Number of trainable parameters of the built network (no network is built)."""
    return _plan_cost(arch, input_shape, num_classes)[0]


def count_flops(
    arch: Architecture, input_shape: InputShape = (3, 32, 32), num_classes: int = 10
) -> int:
    """FLOPs of one forward pass on one image, as ``torch.utils.flop_counter`` counts them.

    Convolutions and matmuls count ``2 * multiply-adds``; pooling, BN and additions
    count zero. Each distinct module is measured once on the ``meta`` device and cached.
    """
    return _plan_cost(arch, input_shape, num_classes)[1]


def _plan_cost(arch: Architecture, input_shape: InputShape, num_classes: int) -> tuple[int, int]:
    plan = network_class(arch.space).cost_plan(arch, tuple(input_shape), num_classes)
    params = flops = 0
    for unit in plan:
        p, f = _unit_cost(unit.factory, unit.args, unit.input_shape)
        params += unit.count * p
        flops += unit.count * f
    return params, flops


@functools.lru_cache(maxsize=65536)
def _unit_cost(factory, args: tuple, input_shape: tuple[int, ...]) -> tuple[int, int]:  # noqa: ANN001
    return measure_module_cost(CostUnit(factory, args, input_shape))


def measure_module_cost(unit: CostUnit | nn.Module, input_shape: InputShape | None = None):
    """``(params, flops)`` of a module (or a unit) on one sample, measured on ``meta``.

    This is the reference the cached counts are tested against.
    """
    with torch.device("meta"):
        module = unit.factory(*unit.args) if isinstance(unit, CostUnit) else unit
        shape = unit.input_shape if isinstance(unit, CostUnit) else input_shape
        x = torch.empty(1, *shape)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(x)
    params = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return params, counter.get_total_flops()


def count_network(
    arch: Architecture, input_shape: InputShape = (3, 32, 32), num_classes: int = 10
) -> tuple[int, int]:
    """``(params, flops)`` by building the whole network on ``meta`` (slow reference)."""
    with torch.device("meta"):
        model = build_network(arch, input_shape[0], num_classes).eval()
    return measure_module_cost(model, input_shape)


def thop_macs(
    arch: Architecture, input_shape: InputShape = (3, 32, 32), num_classes: int = 10
) -> int:
    """Multiply-accumulates as counted by ``thop`` (opt-in; needs the ``thop`` package).

    thop leaves ``total_ops``/``total_params`` buffers in every module it visits,
    so it only ever sees a throwaway network built for the count.
    """
    try:
        import thop
    except ImportError as exc:  # pragma: no cover - thop is a declared dependency
        raise ImportError("thop_macs needs the 'thop' package: pip install thop") from exc
    model = build_network(arch, input_shape[0], num_classes).eval()
    with torch.no_grad():
        macs, _ = thop.profile(model, inputs=(torch.zeros(1, *input_shape),), verbose=False)
    return int(macs)


@dataclass(frozen=True)
class LatencyMeasurement:
    """Median forward latency and the conditions it was measured under."""

    milliseconds: float
    batch_size: int
    threads: int
    device: str
    repeats: int
    warmup: int


def measure_latency(
    arch: Architecture,
    input_shape: InputShape = (3, 32, 32),
    num_classes: int = 10,
    *,
    batch_size: int = 1,
    warmup: int = 3,
    repeats: int = 10,
    threads: int | None = 1,
    device: str | torch.device = "cpu",
) -> LatencyMeasurement:
    """Median inference latency of the built network (eval mode, ``inference_mode``).

    ``threads`` fixes ``torch.set_num_threads`` during the measurement (``None``
    keeps the current setting); it is restored afterwards.
    """
    device = torch.device(device)
    model = build_network(arch, input_shape[0], num_classes).to(device).eval()
    x = torch.randn(batch_size, *input_shape, device=device)
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        times = []
        with torch.inference_mode():
            for i in range(warmup + repeats):
                _sync(device)
                start = time.perf_counter()
                model(x)
                _sync(device)
                if i >= warmup:
                    times.append(time.perf_counter() - start)
        used_threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(old_threads)
    return LatencyMeasurement(
        milliseconds=1000 * statistics.median(times),
        batch_size=batch_size,
        threads=used_threads,
        device=str(device),
        repeats=repeats,
        warmup=warmup,
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
