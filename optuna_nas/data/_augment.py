from __future__ import annotations

import torch
import torch.nn.functional as F


def augment(
    x: torch.Tensor, translate: int, flip: bool, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Random translation by up to ``translate`` px (zero fill) and horizontal flips.

    One gather for the whole batch on its device: no per-sample Python.
    """
    n, _, h, w = x.shape
    if translate > 0:
        p = translate
        padded = F.pad(x, (p, p, p, p))
        shift = torch.randint(0, 2 * p + 1, (2, n, 1), device=x.device, generator=generator)
        rows = (torch.arange(h, device=x.device) + shift[0])[:, None, :, None]
        cols = (torch.arange(w, device=x.device) + shift[1])[:, None, None, :]
        batch = torch.arange(n, device=x.device)[:, None, None, None]
        channel = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
        x = padded[batch, channel, rows, cols]
    if flip:
        mask = torch.rand(n, device=x.device, generator=generator) < 0.5
        x = torch.where(mask[:, None, None, None], x.flip(3), x)
    return x
