"""NAO's search step: move embeddings down the predictor's gradient, decode, keep new ones."""

from __future__ import annotations

from collections.abc import Container

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
    decoded: dict[tuple[int, ...], Architecture | None] = {}
    allowed: dict[tuple[int, ...], list[int]] = {}
    with torch.no_grad():
        outputs = model.encode(tokens)
    current = tokens
    for _ in range(max_steps):
        outputs = gradient_step(model, outputs, weights, step_size)
        sequences = model.decode(outputs, space.allowed_tokens)
        nearby = _alternatives(model, space, outputs, sequences, allowed) if alternatives else []
        for seq in map(tuple, sequences + nearby):
            if seq not in decoded:
                decoded[seq] = arch = _valid(space, seq)
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


def _valid(space: BaseSpace, tokens: tuple[int, ...]) -> Architecture | None:
    try:
        return space.from_tokens(tokens)
    except ValueError:
        return None


def _norms(grad: torch.Tensor) -> torch.Tensor:
    return grad.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None]


def _alternatives(
    model: EPD,
    space: BaseSpace,
    outputs: torch.Tensor,
    sequences: list[list[int]],
    allowed: dict[tuple[int, ...], list[int]],
) -> list[list[int]]:
    """Each decoding with one position changed to the decoder's next most likely token.

    Teacher forcing scores each position given the decoded prefix, among the tokens
    the space allows after it (``allowed`` caches them by prefix); a change may still
    break a later position's constraint (the caller drops those).
    """
    tokens = torch.as_tensor(sequences, device=outputs.device)
    with torch.no_grad():
        logits = model.reconstruction_logits(outputs, tokens).cpu().numpy()
    found = []
    for seq, rows in zip(sequences, logits, strict=True):
        for pos, row in enumerate(rows):
            prefix = tuple(seq[:pos])
            if prefix not in allowed:
                allowed[prefix] = space.allowed_tokens(prefix)
            others = [t for t in allowed[prefix] if t != seq[pos]]
            if others:
                token = max(others, key=row.__getitem__)
                found.append([*seq[:pos], token, *seq[pos + 1 :]])
    return found
