"""Training the supernet's shared weights one batch at a time, and scoring its sub-networks."""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from optuna_nas.data import ImageData, augment
from optuna_nas.tnd._supernet import Supernet
from optuna_nas.training import TrainConfig, TrainingDiverged, make_optimizer


class SupernetTrainer:
    """The shared training recipe applied to a supernet, one step at a time.

    SGD with Nesterov momentum, weight decay (not on BN and biases), label smoothing,
    linear warm-up then cosine over ``total_steps``, on-device augmentation and
    ``channels_last`` as :func:`optuna_nas.training.train` does, but stepped by the
    search, which changes what the supernet computes between steps.
    """

    def __init__(
        self, supernet: Supernet, data: ImageData, config: TrainConfig, total_steps: int
    ) -> None:
        self.config = config
        self.device = config.resolved_device()
        self.data = data.to(self.device)
        self.supernet = supernet.to(self.device)
        self.channels_last = config.channels_last is not False
        if self.channels_last:
            self.supernet.to(memory_format=torch.channels_last)
        self.amp = self.device.type == "cuda" if config.amp is None else config.amp
        self.flip = self.data.flip if config.flip is None else config.flip
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.batch_size = min(config.batch_size, len(self.data.train_y))
        self.steps_per_epoch = len(self.data.train_y) // self.batch_size
        self.optimizer, self.schedule = make_optimizer(supernet, config, total_steps)
        self._loss_sum = torch.zeros((), device=self.device)
        self._step = 0

    def step(self) -> None:
        """One SGD step on the next training batch with whatever the supernet now computes."""
        n = len(self.data.train_y)
        position = self._step % self.steps_per_epoch
        if position == 0:
            self._order = torch.randperm(n, device=self.device, generator=self.generator)
        idx = self._order[position * self.batch_size : (position + 1) * self.batch_size]
        x = augment(self.data.train_x[idx], self.config.translate, self.flip, self.generator)
        x = self._layout(self.data.normalize(x))
        self.supernet.train()
        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.amp):
            logits = self.supernet(x)
            loss = F.cross_entropy(
                logits, self.data.train_y[idx], label_smoothing=self.config.label_smoothing
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.schedule.step()
        self._loss_sum += loss.detach().float()
        self._step += 1

    def check_finite(self) -> None:
        """``TrainingDiverged`` if a loss so far was not finite (one host sync per call)."""
        total = self._loss_sum.item()
        if not math.isfinite(total):
            raise TrainingDiverged(
                f"the supernet's training loss became {total} (lr={self.config.lr}); lower "
                "the search config's lr."
            )

    def validation_batch(
        self, size: int, rng: np.random.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``size`` random validation images (normalised) and their labels.

        Rewards are measured here, on images the shared weights never train on, so a
        supernet that overfits its training split cannot inflate them.
        """
        return self._batch(self.data.val_x, self.data.val_y, size, rng)

    def train_batch(self, size: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``size`` random training images (normalised, not augmented): the overfitting check."""
        return self._batch(self.data.train_x, self.data.train_y, size, rng)

    def _batch(
        self, x: torch.Tensor, y: torch.Tensor, size: int, rng: np.random.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.from_numpy(rng.choice(len(y), min(size, len(y)), replace=False))
        idx = idx.to(self.device)
        return self._layout(self.data.normalize(x[idx])), y[idx]

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x


@torch.no_grad()
def supernet_accuracy(supernet: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy of the supernet's current selection on one batch, with the batch's BN statistics.

    Shared BatchNorm running statistics belong to no single sub-network (they average
    over whatever was trained), so each sub-network is scored with its own batch
    statistics, as single-path NAS methods recalibrate BN; the running statistics stay
    untouched. BatchNorm is the only layer of our networks that behaves differently in
    training, so the forward pass runs in training mode with BN's momentum at 0.
    """
    with _frozen_running_statistics(supernet):
        return (supernet(x).argmax(1) == y).float().mean().item()


_NORMS: weakref.WeakKeyDictionary[nn.Module, list[nn.Module]] = weakref.WeakKeyDictionary()
"""Each scored model's BatchNorm layers, found once: walking a supernet's modules for
every score cost as much as the forward pass of a small sub-network."""


@contextmanager
def _frozen_running_statistics(model: nn.Module) -> Iterator[None]:
    if model not in _NORMS:
        _NORMS[model] = [
            m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
        ]
    norms = _NORMS[model]
    training = model.training
    if not training:
        model.train()
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.momentum = 0.0  # running = (1 - 0) * running + 0 * batch: unchanged
    try:
        yield
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        if not training:
            model.eval()
