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

    ``f`` is ``weights . predicted objectives`` per row; every row moves by
    ``step_size * sqrt(L)`` (the norm of ``L`` unit-length positions) along its
    normalised negative gradient, then each position is scaled back to unit length.
    """
    outputs = outputs.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad((model.predict(outputs) * weights).sum(), outputs)
    norms = grad.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None]
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

    Returns
    -------
    list of Architecture
        Distinct (by fingerprint) new architectures, in the order they were found.
    """
    found: dict[str, Architecture] = {}
    decoded: dict[tuple[int, ...], Architecture] = {}
    with torch.no_grad():
        outputs = model.encode(tokens)
    current = tokens
    for _ in range(max_steps):
        outputs = gradient_step(model, outputs, weights, step_size)
        sequences = model.decode(outputs, space.allowed_tokens)
        for seq in map(tuple, sequences):
            if seq not in decoded:
                arch = decoded[seq] = space.from_tokens(seq)
                if arch.fingerprint not in taken:
                    found.setdefault(arch.fingerprint, arch)
        if len(found) >= n_wanted:
            break
        latest = torch.as_tensor(sequences, device=tokens.device)
        changed = (latest != current).any(dim=1)
        with torch.no_grad():
            outputs[changed] = model.encode(latest[changed])
        current = latest
    return list(found.values())
