"""Which device each worker process trains on: GPUs spread over workers, or packed.

Pure logic, no torch: the caller counts the GPUs (``torch.cuda.device_count()``) and
applies the answer, ``CUDA_VISIBLE_DEVICES`` for a child process, ``cuda:<index>`` for
itself (a process whose CUDA is initialised no longer reads the variable).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

VISIBLE = "CUDA_VISIBLE_DEVICES"
MAX_TRIALS_PER_GPU = 64
"""More workers than this on one GPU is a typo: each holds a CUDA context of its own."""


@dataclass(frozen=True)
class Placement:
    """Where one worker process trains: the CPU, or one GPU."""

    gpu: str | None = None
    """The GPU's id as ``CUDA_VISIBLE_DEVICES`` names it (an index or a UUID); ``None``: CPU."""
    index: int | None = None
    """Its position among the GPUs the placing process sees (torch's ``cuda:<index>`` there)."""

    @property
    def device(self) -> str:
        """The torch device in the placing process: ``cpu`` or ``cuda:<index>``."""
        return "cpu" if self.gpu is None else f"cuda:{self.index}"

    def environ(self) -> dict[str, str]:
        """The variables a child process on this placement gets (it sees only its GPU)."""
        return {} if self.gpu is None else {VISIBLE: self.gpu}


def visible_gpus(environ: Mapping[str, str], device_count: int) -> list[str]:
    """The GPUs this process may use, by the ids a child's ``CUDA_VISIBLE_DEVICES`` takes.

    An existing ``CUDA_VISIBLE_DEVICES`` is respected: ``"2,3"`` gives ``["2", "3"]``
    (CUDA numbers them 0 and 1 here, so a child gets the id, not the index). As CUDA
    does, an empty value or ``-1`` hides every GPU and the list stops at the first
    invalid entry; ``device_count`` (what CUDA counted) cuts off ids that do not exist.
    """
    value = environ.get(VISIBLE)
    if value is None:
        return [str(i) for i in range(device_count)]
    ids = []
    for item in value.split(","):
        item = item.strip()
        if not item or item.startswith("-"):
            break
        ids.append(item)
    return ids[: max(0, device_count)]


def place_workers(
    n_workers: int,
    gpus: Sequence[str],
    *,
    trials_per_gpu: int | None = None,
    device: str = "auto",
) -> list[Placement]:
    """The device of each of ``n_workers`` worker processes (the first is the caller).

    Parameters
    ----------
    n_workers:
        Worker processes on this machine.
    gpus:
        The visible GPUs (:func:`visible_gpus`).
    trials_per_gpu:
        At most this many workers share one GPU (small networks leave a GPU idle with
        one). ``None``: the workers are spread evenly, as many per GPU as it takes.
    device:
        ``auto`` (GPUs if any), ``cuda`` or ``cpu``.

    Returns
    -------
    list[Placement]
        Worker ``i`` gets GPU ``i mod len(gpus)``: spread first, then shared; on the
        CPU every worker gets ``Placement()``.

    Raises
    ------
    ValueError
        ``trials_per_gpu`` without a GPU to use (``device="cpu"``, or none visible),
        ``device="cuda"`` without a GPU, or more workers than ``len(gpus) *
        trials_per_gpu``; the message names the fix.
    """
    if n_workers < 1:
        raise ValueError(f"--workers must be >= 1, got {n_workers}.")
    if trials_per_gpu is not None and not 1 <= trials_per_gpu <= MAX_TRIALS_PER_GPU:
        raise ValueError(
            f"--trials-per-gpu must be in [1, {MAX_TRIALS_PER_GPU}], got {trials_per_gpu}."
        )
    if device not in ("auto", "cuda", "cpu"):
        raise ValueError(f"device must be auto, cuda or cpu, got {device!r}.")
    if device == "cuda" and not gpus:
        raise ValueError(
            f"--device cuda, but no GPU is visible here{_shown(os.environ)}; use --device cpu "
            "or auto."
        )
    if device == "cpu" or not gpus:
        if trials_per_gpu is not None:
            where = (
                "--device cpu" if device == "cpu" else f"no GPU is visible here{_shown(os.environ)}"
            )
            raise ValueError(
                f"--trials-per-gpu {trials_per_gpu} needs GPUs, but {where}; drop "
                f"--trials-per-gpu to run the {n_workers} worker(s) on the CPU."
            )
        return [Placement() for _ in range(n_workers)]
    per_gpu = trials_per_gpu or math.ceil(n_workers / len(gpus))
    if n_workers > len(gpus) * per_gpu:
        fits = len(gpus) * per_gpu
        raise ValueError(
            f"--workers {n_workers} do not fit on {len(gpus)} GPU(s) at --trials-per-gpu "
            f"{per_gpu} (at most {fits}); use --trials-per-gpu "
            f"{math.ceil(n_workers / len(gpus))} or --workers {fits}."
        )
    return [Placement(gpus[i % len(gpus)], i % len(gpus)) for i in range(n_workers)]


def gpus_per_task(cluster_gpus: float, trials_per_gpu: int | None = None) -> float:
    """The GPUs one worker task asks a cluster scheduler for: ``1 / trials_per_gpu``, or 0.

    A cluster without GPUs runs its tasks on CPUs; ``trials_per_gpu`` there is an error.
    """
    if trials_per_gpu is not None and not 1 <= trials_per_gpu <= MAX_TRIALS_PER_GPU:
        raise ValueError(
            f"--trials-per-gpu must be in [1, {MAX_TRIALS_PER_GPU}], got {trials_per_gpu}."
        )
    if cluster_gpus <= 0:
        if trials_per_gpu is not None:
            raise ValueError(
                f"--trials-per-gpu {trials_per_gpu} needs GPUs, but the cluster has none; drop "
                "--trials-per-gpu to run the workers on its CPUs."
            )
        return 0.0
    return 1.0 / (trials_per_gpu or 1)


def device_label(device: object, environ: Mapping[str, str] | None = None) -> str:
    """What a trial records as its device: ``cpu``, or ``cuda:<id>`` as the machine numbers it.

    ``cuda:0`` in a process with ``CUDA_VISIBLE_DEVICES=3`` is ``cuda:3``: the GPU's
    own id, so trials of different workers on one machine tell their GPUs apart.
    """
    kind, _, index = str(device).partition(":")
    if kind != "cuda":
        return kind
    position = int(index or 0)
    value = (os.environ if environ is None else environ).get(VISIBLE)
    ids = visible_gpus({VISIBLE: value}, position + 1) if value is not None else []
    return f"cuda:{ids[position]}" if position < len(ids) else f"cuda:{position}"


def _shown(environ: Mapping[str, str]) -> str:
    value = environ.get(VISIBLE)
    return "" if value is None else f" ({VISIBLE}={value!r})"
