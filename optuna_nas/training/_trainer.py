"""One training recipe for every architecture (airbench / cifar10-fast style)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from optuna_nas.data import ImageData, augment

AUGMENT_MIN_EPOCHS = 10
"""The shortest schedule that :class:`TrainConfig` augments by default."""


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainConfig:
    """The shared training recipe.

    SGD with Nesterov momentum, label smoothing and weight decay; the learning
    rate warms up linearly for ``warmup_fraction`` of the steps, then follows a
    cosine to zero. Batches have a fixed size (``drop_last``) so cuDNN autotuning
    pays off. ``channels_last`` by default; on CUDA also ``amp`` (bf16 autocast).

    ``augment=None`` (the default) augments (random translation by ``translate``
    px, horizontal flips where the data allows them) only schedules of at least
    :data:`AUGMENT_MIN_EPOCHS` epochs: a short search trial has not yet fitted its
    training images, so augmentation only slows it down (``benchmarks/results/
    quick_start.md``), while a final training of many epochs needs it.
    """

    epochs: int = 10
    batch_size: int = 256
    lr: float = 0.08
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    warmup_fraction: float = 0.1
    translate: int = 2
    flip: bool | None = None
    augment: bool | None = None
    eval_batch_size: int = 1024
    device: str = "auto"
    amp: bool | None = None
    channels_last: bool | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}.")
        if self.lr <= 0 or not math.isfinite(self.lr):
            raise ValueError(f"TrainConfig.lr must be a positive finite number, got {self.lr}.")

    def augments(self) -> bool:
        """Whether training augments its images (``augment``, or the schedule's length)."""
        return self.epochs >= AUGMENT_MIN_EPOCHS if self.augment is None else self.augment

    def resolved_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        device = torch.device(self.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("TrainConfig.device='cuda' but no CUDA device is available here.")
        return device

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    """What one training run produced."""

    val_accuracy: float
    curve: list[float] = field(default_factory=list)
    seconds: float = 0.0
    epochs: int = 0
    images_per_second: float = 0.0


def evaluate(
    model: nn.Module,
    data: ImageData,
    split: str = "val",
    config: TrainConfig | None = None,
) -> float:
    """Top-1 accuracy of ``model`` on a split (``"val"`` or ``"test"``), eval mode."""
    config = config or TrainConfig()
    x_all, y_all = getattr(data, f"{split}_x"), getattr(data, f"{split}_y")
    device = next(model.parameters()).device
    amp = _use_amp(config, device)
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=device)
    with torch.no_grad(), torch.autocast(device.type, torch.bfloat16, enabled=amp):
        for start in range(0, len(y_all), config.eval_batch_size):
            x = data.normalize(x_all[start : start + config.eval_batch_size].to(device))
            if _use_channels_last(config, device):
                x = x.contiguous(memory_format=torch.channels_last)
            logits = model(x)
            correct += (logits.argmax(1) == y_all[start : start + len(x)].to(device)).sum()
    return correct.item() / max(1, len(y_all))


def train(
    model: nn.Module,
    data: ImageData,
    config: TrainConfig,
    on_epoch: Callable[[int, float], None] | None = None,
    teacher: nn.Module | None = None,
) -> TrainResult:
    """Train ``model`` on ``data.train`` and return validation accuracy per epoch.

    ``on_epoch(epoch, val_accuracy)`` runs after every epoch (it may raise, e.g.
    ``optuna.TrialPruned``). With a ``teacher``, the loss is the KL divergence to
    the teacher's outputs (knowledge distillation) instead of the labels.

    Raises
    ------
    TrainingDiverged
        If the loss of an epoch is not finite.
    """
    device = config.resolved_device()
    torch.manual_seed(config.seed)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    data = data.to(device)
    model.to(device)
    channels_last = _use_channels_last(config, device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if teacher is not None:
        teacher.to(device).eval()
    amp = _use_amp(config, device)
    augments = config.augments()
    translate = config.translate if augments else 0
    flip = augments and (data.flip if config.flip is None else config.flip)

    n = len(data.train_y)
    batch_size = min(config.batch_size, n)
    steps_per_epoch = n // batch_size
    total_steps = steps_per_epoch * config.epochs
    optimizer, schedule = make_optimizer(model, config, total_steps)

    result = TrainResult(val_accuracy=0.0)
    start = time.perf_counter()
    train_seconds = 0.0
    for epoch in range(config.epochs):
        model.train()
        epoch_start = time.perf_counter()
        order = torch.randperm(n, device=device, generator=generator)
        loss_sum = torch.zeros((), device=device)
        for step in range(steps_per_epoch):
            idx = order[step * batch_size : (step + 1) * batch_size]
            x = augment(data.train_x[idx], translate, flip, generator)
            x = data.normalize(x)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, torch.bfloat16, enabled=amp):
                logits = model(x)
                if teacher is None:
                    loss = F.cross_entropy(
                        logits, data.train_y[idx], label_smoothing=config.label_smoothing
                    )
                else:
                    with torch.no_grad():
                        target = F.softmax(teacher(x).float(), dim=1)
                    loss = F.kl_div(
                        F.log_softmax(logits.float(), dim=1), target, reduction="batchmean"
                    )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_sum += loss.detach()
        # One host sync per epoch: the divergence check.
        if not math.isfinite(loss_sum.item()):
            raise TrainingDiverged(
                f"training loss became {loss_sum.item()} in epoch {epoch + 1} "
                f"(lr={config.lr}); lower the learning rate."
            )
        train_seconds += time.perf_counter() - epoch_start
        accuracy = evaluate(model, data, "val", config)
        result.curve.append(accuracy)
        result.val_accuracy = accuracy
        result.epochs = epoch + 1
        if on_epoch is not None:
            on_epoch(epoch, accuracy)
    result.seconds = time.perf_counter() - start
    result.images_per_second = (
        steps_per_epoch * batch_size * result.epochs / max(train_seconds, 1e-9)
    )
    return result


def make_optimizer(
    model: nn.Module, config: TrainConfig, total_steps: int
) -> tuple[torch.optim.SGD, torch.optim.lr_scheduler.LambdaLR]:
    """The recipe's SGD (Nesterov; no weight decay on BN and biases) and its schedule.

    The schedule warms up linearly for ``config.warmup_fraction`` of ``total_steps``,
    then follows a cosine to zero; call ``schedule.step()`` after every step.
    """
    decay, no_decay = [], []
    for p in model.parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    optimizer = torch.optim.SGD(
        [{"params": decay, "weight_decay": config.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr, momentum=config.momentum, nesterov=True,
    )  # fmt: skip
    warmup = max(1, int(config.warmup_fraction * total_steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _use_amp(config: TrainConfig, device: torch.device) -> bool:
    return device.type == "cuda" if config.amp is None else config.amp


def _use_channels_last(config: TrainConfig, device: torch.device) -> bool:
    # Measured 1.4x faster on this project's 2-core CPU too (benchmarks/), so on by default.
    return True if config.channels_last is None else config.channels_last
