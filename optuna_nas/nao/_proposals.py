"""NAO's search step: move embeddings down the predictor's gradient, decode, keep new ones."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Container, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.nao._model import EPD


def gradient_step(
    model: EPD, outputs: torch.Tensor, weights: torch.Tensor, step_size: float
) -> torch.Tensor:
    """NAO's step ``h - eta * df/dh`` on encoder outputs, of a fixed length.

    ``f`` is the ``weights``-weighted sum of the predicted objectives per row, each
    head's gradient first scaled to unit length: the weights set the trade-off whatever
    the heads' slopes (an exact cheap head is steeper than a noisy error head and
    would otherwise steer every walk). Every row moves by ``step_size * sqrt(L)`` (the
    norm of ``L`` unit-length positions) along the combined negative direction, then
    each position is scaled back to unit length.
    """
    outputs = outputs.detach().requires_grad_(True)
    predicted = model.predict(outputs)
    grad = torch.zeros_like(outputs)
    for m in range(predicted.shape[1]):
        (head,) = torch.autograd.grad(
            predicted[:, m].sum(), outputs, retain_graph=m + 1 < predicted.shape[1]
        )
        grad += weights[:, m, None, None] * head / _norms(head)
    norms = _norms(grad)
    step = step_size * outputs.shape[1] ** 0.5 * grad / norms
    return F.normalize(outputs.detach() - step, dim=-1)


def gradient_walk(
    model: EPD,
    space: BaseSpace,
    tokens: torch.Tensor,
    weights: torch.Tensor,
    n_wanted: int,
    taken: Container[str] = (),
    step_size: float = 0.1,
    max_steps: int = 30,
    alternatives: bool = True,
) -> list[Architecture]:
    """New architectures found by repeated NAO steps from each start.

    NAO moves an embedding along the predictor's gradient and raises the step size
    until the decoded architecture is new. Here every start walks: a step
    (:func:`gradient_step`) is decoded; while the decoding does not change, the next
    step goes on from the moved point (the step size grows); once it changes, the walk
    continues from the encoder outputs of the decoded architecture. Restarting from a
    real architecture's embedding keeps the walk where the decoder was trained: a
    long straight line leaves that region, where the predictor keeps rising but the
    decoding no longer follows it. Every start carries its own scalarisation
    ``weights``, so the walks spread along the trade-offs.

    A walk soon settles where its decoding maps back onto itself (a local optimum of
    the prediction): on NAS-Bench-201, 80 walks of 30 steps decoded 100-200 new
    architectures, not the 400 asked for. With ``alternatives``, every decoding also
    yields its neighbours by the decoder: the sequence with one position changed to
    the decoder's next most likely token there, one per position that stays valid,
    the architectures the moved embedding nearly decodes to.

    Parameters
    ----------
    model:
        A trained EPD (predicting normalised objectives, lower is better).
    space:
        The space the tokens belong to.
    tokens:
        ``(K, L)`` token sequences of the start architectures (repeat one to walk
        from it in several directions).
    weights:
        ``(K, n_heads)`` scalarisation weights, one row per start.
    n_wanted:
        Stop walking once this many new architectures were found.
    taken:
        Fingerprints of architectures that are not new (evaluated or running).
    step_size:
        Length of one step relative to the norm of an embedding.
    max_steps:
        Longest walk.
    alternatives:
        Also keep each decoding's single-position alternatives (the paper decodes
        greedily only).

    Returns
    -------
    list of Architecture
        Distinct (by fingerprint) new architectures, in the order they were found.
    """
    found: dict[str, Architecture] = {}
    decoded: set[tuple[int, ...]] = set()
    allowed = _Allowed(space)
    with torch.no_grad():
        outputs = model.encode(tokens)
    current = tokens
    for _ in range(max_steps):
        outputs = gradient_step(model, outputs, weights, step_size)
        sequences = model.decode(outputs, allowed)
        nearby = _alternatives(model, outputs, sequences, allowed) if alternatives else []
        for seq in map(tuple, sequences + nearby):
            if seq not in decoded:
                decoded.add(seq)
                arch = _valid(space, seq)
                if arch is not None and arch.fingerprint not in taken:
                    found.setdefault(arch.fingerprint, arch)
        if len(found) >= n_wanted:
            break
        latest = torch.as_tensor(sequences, device=tokens.device)
        changed = (latest != current).any(dim=1)
        with torch.no_grad():
            outputs[changed] = model.encode(latest[changed])
        current = latest
    return list(found.values())


@functools.lru_cache(maxsize=1 << 14)
def _valid(space: BaseSpace, tokens: tuple[int, ...]) -> Architecture | None:
    # Walks from the same front decode the same sequences call after call.
    try:
        return space.from_tokens(tokens)
    except ValueError:
        return None


class _Allowed:
    """``space.allowed_tokens``, memoised by prefix: decoding asks at every row and position."""

    def __init__(self, space: BaseSpace) -> None:
        self._space = space
        self._tokens: dict[tuple[int, ...], list[int]] = {}
        self._masks: dict[tuple[int, ...], np.ndarray | None] = {}

    def __call__(self, prefix: Sequence[int]) -> list[int]:
        key = tuple(prefix)
        tokens = self._tokens.get(key)
        if tokens is None:
            tokens = self._tokens[key] = self._space.allowed_tokens(key)
        return tokens

    def mask(self, prefix: Sequence[int], width: int) -> np.ndarray | None:
        """The allowed tokens as ``width`` booleans; ``None`` unless listed in increasing order.

        Only then is the first largest logit among them (``argmax``) the one ``max``
        picks from the list: the order breaks ties.
        """
        key = tuple(prefix)
        if key not in self._masks:
            tokens = self(key)
            mask = None
            if all(a < b for a, b in itertools.pairwise(tokens)):
                mask = np.zeros(width, dtype=bool)
                mask[tokens] = True
            self._masks[key] = mask
        return self._masks[key]


def _norms(grad: torch.Tensor) -> torch.Tensor:
    return grad.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None]


def _alternatives(
    model: EPD, outputs: torch.Tensor, sequences: list[list[int]], allowed: _Allowed
) -> list[list[int]]:
    """Each decoding with one position changed to the decoder's next most likely token.

    Teacher forcing scores each position given the decoded prefix, among the tokens
    the space allows after it; a change may still break a later position's
    constraint (the caller drops those).
    """
    tokens = torch.as_tensor(sequences, device=outputs.device)
    with torch.no_grad():
        logits = model.reconstruction_logits(outputs, tokens).cpu().numpy()
    length, width = logits.shape[1:]
    masks = [[allowed.mask(seq[:pos], width) for pos in range(length)] for seq in sequences]
    if not np.isfinite(logits).all() or any(mask is None for row in masks for mask in row):
        return _alternatives_by_list(logits, sequences, allowed)
    # Per position: the allowed tokens but the decoded one, and the first largest logit there.
    others = np.array(masks)
    others[np.arange(len(sequences))[:, None], np.arange(length), tokens.cpu().numpy()] = False
    best = np.where(others, logits, -np.inf).argmax(axis=-1)
    found = []
    for i, pos in zip(*np.nonzero(others.any(axis=-1)), strict=True):
        seq = sequences[i]
        found.append([*seq[:pos], int(best[i, pos]), *seq[pos + 1 :]])
    return found


def _alternatives_by_list(
    logits: np.ndarray, sequences: list[list[int]], allowed: _Allowed
) -> list[list[int]]:
    """:func:`_alternatives` for a space that lists allowed tokens in another order."""
    found = []
    for seq, rows in zip(sequences, logits, strict=True):
        for pos, row in enumerate(rows):
            others = [t for t in allowed(seq[:pos]) if t != seq[pos]]
            if others:
                token = max(others, key=row.__getitem__)
                found.append([*seq[:pos], token, *seq[pos + 1 :]])
    return found
