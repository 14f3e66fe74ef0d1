"""Joint training of the EPD: lambda * prediction MSE + (1 - lambda) * reconstruction NLL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.nao._data import RankScale, allowed_masks, arch_tokens, symmetric_twin
from optuna_nas.nao._model import EPD


def epd_loss(
    model: EPD, tokens: torch.Tensor, masks: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(prediction MSE, reconstruction NLL)`` of a batch.

    The first ``len(targets)`` sequences are labelled; the rest (unevaluated
    architectures) only count in the reconstruction. The NLL spreads probability only
    over the tokens the space allows at each position (``masks``), the same choice
    :meth:`EPD.decode` makes.
    """
    outputs = model.encode(tokens)
    mse = F.mse_loss(model.predict(outputs[: len(targets)]), targets)
    logits = model.reconstruction_logits(outputs, tokens).masked_fill(~masks, float("-inf"))
    nll = F.cross_entropy(logits.flatten(0, 1), tokens.flatten())
    return mse, nll


def train_epd(
    model: EPD,
    labelled: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    unlabelled: tuple[torch.Tensor, torch.Tensor] | None = None,
    *,
    steps: int,
    batch_size: int = 100,
    lr: float = 1e-3,
    trade_off: float = 0.8,
    generator: torch.Generator | None = None,
) -> float:
    """Train ``model`` in place with Adam for ``steps`` mini-batches.

    Parameters
    ----------
    model:
        The EPD, freshly initialised or warm from an earlier fit.
    labelled:
        ``(N, L)`` token sequences, ``(N, L, vocab)`` allowed-token masks and
        ``(N, n_heads)`` normalised objectives of evaluated architectures, on the
        model's device; visited in shuffled epochs.
    unlabelled:
        Token sequences and masks of architectures without objectives; each step adds
        ``batch_size // 2`` of them, drawn at random, to the reconstruction loss, so the
        decoder learns the whole space, not only the few evaluated architectures.
    steps:
        Number of optimiser steps.
    batch_size, lr, trade_off:
        Mini-batch size, Adam learning rate and the weight lambda of the prediction loss.
    generator:
        Source of the shuffling (CPU generator), for reproducible fits.

    Returns
    -------
    float
        The mean loss over the last ``ceil(N / batch_size)`` steps (about an epoch).
    """
    tokens, masks, targets = labelled
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    n = len(tokens)
    order = torch.zeros(0, dtype=torch.long)
    losses = []
    for _ in range(steps):
        if len(order) == 0:
            order = torch.randperm(n, generator=generator)
        batch, order = order[:batch_size].to(tokens.device), order[batch_size:]
        batch_tokens, batch_masks = tokens[batch], masks[batch]
        if unlabelled is not None:
            extra = torch.randint(len(unlabelled[0]), (batch_size // 2,), generator=generator)
            extra = extra.to(tokens.device)
            batch_tokens = torch.cat([batch_tokens, unlabelled[0][extra]])
            batch_masks = torch.cat([batch_masks, unlabelled[1][extra]])
        mse, nll = epd_loss(model, batch_tokens, batch_masks, targets[batch])
        loss = trade_off * mse + (1 - trade_off) * nll
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        losses.append(loss.detach())
    model.eval()
    window = -(-n // batch_size)
    return float(torch.stack(losses[-window:]).mean()) if losses else float("nan")


@dataclass
class FittedEPD:
    """An EPD trained on evaluated architectures, with the scales of its targets.

    Attributes
    ----------
    model:
        The trained EPD (in eval mode).
    scales:
        One :class:`RankScale` per objective: minimised value -> predicted target.
    """

    model: EPD
    scales: list[RankScale]

    def tokens(self, space: BaseSpace, archs: Sequence[Architecture]) -> torch.Tensor:
        """``(n, L)`` tokens of ``archs`` (:func:`arch_tokens`) on the model's device."""
        device = next(self.model.parameters()).device
        return torch.as_tensor([arch_tokens(space, a) for a in archs], device=device)

    @torch.no_grad()
    def predict(self, space: BaseSpace, archs: Sequence[Architecture]) -> np.ndarray:
        """``(n, n_objectives)`` predicted minimised values of ``archs``."""
        quantiles = self.model.predict(self.model.encode(self.tokens(space, archs)))
        quantiles = quantiles.double().cpu().numpy()
        return np.column_stack(
            [s.inverse(q) for s, q in zip(self.scales, quantiles.T, strict=True)]
        )


def fit_epd(
    space: BaseSpace,
    archs: Sequence[Architecture],
    values: np.ndarray,
    rng: np.random.Generator,
    *,
    steps: int,
    warm: EPD | None = None,
    n_unlabelled: int = 500,
    trade_off: float = 0.8,
    embedding: int = 48,
    hidden: int = 96,
    device: str | torch.device = "cpu",
) -> FittedEPD:
    """Train an EPD to predict ``values`` of ``archs`` and to reconstruct architectures.

    Each objective is normalised to its empirical quantile (:class:`RankScale`); every
    architecture is also shown as its symmetric twin (:func:`symmetric_twin`), and
    ``n_unlabelled`` random architectures of ``space`` join the reconstruction loss.

    Parameters
    ----------
    space:
        The space of ``archs``.
    archs, values:
        Evaluated architectures and their ``(n, n_objectives)`` minimised objectives.
    rng:
        Source of the twins, the unlabelled architectures and the torch seed.
    steps:
        Adam steps (see :func:`train_epd`).
    warm:
        An EPD of the same shape to start from (its weights are copied, not changed).
    n_unlabelled, trade_off, embedding, hidden:
        See :class:`~optuna_nas.nao.NAOSampler`.
    device:
        Where to train.
    """
    values = np.asarray(values, dtype=float).reshape(len(archs), -1)
    scales = [RankScale(column) for column in values.T]
    targets = np.column_stack([s(v) for s, v in zip(scales, values.T, strict=True)])
    sequences, rows = [], []
    for i, arch in enumerate(archs):
        live = arch.without_dead_ops()
        for encoding in (live, symmetric_twin(live, rng)):
            if encoding is not None:
                sequences.append(space.to_tokens(encoding))
                rows.append(i)
    unlabelled = [arch_tokens(space, space.sample(rng)) for _ in range(n_unlabelled)]
    seed = int(rng.integers(2**62))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = EPD(len(space.vocabulary), values.shape[1], embedding, hidden)
    if warm is not None:
        model.load_state_dict(warm.state_dict())
    model.to(device)

    def tensors(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        masks = allowed_masks(space, seqs).to(device)
        return torch.as_tensor(seqs, dtype=torch.long, device=device), masks

    train_epd(
        model,
        (*tensors(sequences), torch.as_tensor(targets[rows], dtype=torch.float32, device=device)),
        tensors(unlabelled) if unlabelled else None,
        steps=steps,
        trade_off=trade_off,
        generator=torch.Generator().manual_seed(seed),
    )
    return FittedEPD(model, scales)
