"""Channel and kernel maps: where each index of a child tensor comes from.

Each channel group (see ``_layout``) gets one map from child to parent channels:

- widened: the old channels come first, the new ones after them;
- pruned: the parent channels whose producing filters have the largest L1 norm;

both within each half for a group that a ``FactorizedReduce`` writes (it
concatenates a ``C // 2`` and a ``C - C // 2`` channel conv). Kernels are aligned
on their centre (1x1 -> 3x3, 3x3 -> 5x5).

A child entry whose every index maps to the parent is copied. An entry of an old
output channel that reads a new input channel or a new kernel tap is zero, so new
channels and taps cannot change old outputs; a new output channel keeps the child's
own initialisation.
"""

from __future__ import annotations

import numpy as np
import torch

from optuna_nas.networks._layout import KERNEL, Axis, segment_channels


def group_maps(
    parent_axes: dict[str, list[Axis]],
    child_axes: dict[str, list[Axis]],
    parent_state: dict[str, torch.Tensor],
) -> dict[str, np.ndarray]:
    """``{group: parent channel of each child channel, or -1 if new}``."""

    def widths(axes: dict[str, list[Axis]]) -> dict[str, int]:
        return {
            g: w for dims in axes.values() for a in dims if isinstance(a, list) for g, w, _ in a
        }

    parent_widths, child_widths = widths(parent_axes), widths(child_axes)
    # Importance of a parent channel: L1 norm of the filters that produce it.
    importance = {g: np.zeros(w) for g, w in parent_widths.items()}
    for key, dims in parent_axes.items():
        tensor = parent_state.get(key)
        if tensor is None or tensor.dim() < 2 or not isinstance(dims[0], list):
            continue
        norms = tensor.detach().float().abs().flatten(1).sum(1).cpu().numpy()
        offset = 0
        for group, width, half in dims[0]:
            channels = segment_channels(width, half)
            if offset + len(channels) <= len(norms):
                importance[group][channels] += norms[offset : offset + len(channels)]
            offset += len(channels)

    # A group that a FactorizedReduce writes keeps its two halves apart.
    split = {g for axes in (parent_axes, child_axes) for dims in axes.values()
             for a in dims if isinstance(a, list) for g, _, h in a if h is not None}  # fmt: skip
    maps = {}
    for group in parent_widths.keys() & child_widths.keys():
        pw, cw = parent_widths[group], child_widths[group]
        halves = (0, 1) if group in split else (None,)
        old = [segment_channels(pw, h) for h in halves]
        slots = [len(segment_channels(cw, h)) for h in halves]
        maps[group] = np.concatenate(
            [_channel_map(o, n, importance[group]) for o, n in zip(old, slots, strict=True)]
        )
    return maps


def _channel_map(old: np.ndarray, slots: int, importance: np.ndarray) -> np.ndarray:
    """Fill ``slots`` child channels from the parent channels ``old``.

    Widening keeps the old channels first; pruning keeps the most important, in order.
    """
    if slots >= len(old):
        return np.concatenate([old, np.full(slots - len(old), -1)]).astype(np.int64)
    keep = old[np.argsort(-importance[old], kind="stable")[:slots]]
    return np.sort(keep).astype(np.int64)


def _axis_map(
    child: Axis, parent: Axis, child_size: int, parent_size: int, maps: dict[str, np.ndarray]
) -> np.ndarray:
    """Parent index of each child index along one axis (-1: new)."""
    if child == KERNEL and parent == KERNEL:  # align the centres
        index = np.arange(child_size) + (parent_size - child_size) // 2
    elif (
        isinstance(child, list)
        and isinstance(parent, list)
        and [(g, h) for g, _, h in child] == [(g, h) for g, _, h in parent]
        and sum(len(segment_channels(w, h)) for _, w, h in parent) == parent_size
        and sum(len(segment_channels(w, h)) for _, w, h in child) == child_size
        and all(g in maps for g, _, _ in child)
    ):
        parts, offset = [], 0
        for (group, child_width, half), (_, parent_width, _) in zip(child, parent, strict=True):
            part = maps[group][segment_channels(child_width, half)]
            # group index -> index within the parent tensor: where the segment's half starts
            start = parent_width // 2 if half == 1 else 0
            parts.append(np.where(part >= 0, part - start + offset, -1))
            offset += len(segment_channels(parent_width, half))
        index = np.concatenate(parts)
    else:  # unrelated layouts: keep the leading entries
        index = np.arange(child_size)
    return np.where((index >= 0) & (index < parent_size), index, -1)


def copy_mapped(
    tensor: torch.Tensor,
    source: torch.Tensor,
    child: list[Axis],
    parent: list[Axis],
    maps: dict[str, np.ndarray],
) -> str:
    """Copy ``source`` into ``tensor`` through per-axis maps; returns the status."""
    if tensor.dim() != source.dim() or len(child) != tensor.dim() or len(parent) != source.dim():
        return "new"
    source = source.to(tensor.device, tensor.dtype)
    axis_maps = [
        _axis_map(c, p, n, m, maps)
        for c, p, n, m in zip(child, parent, tensor.shape, source.shape, strict=True)
    ]
    if tensor.shape == source.shape and all(_identity(m) for m in axis_maps):
        tensor.copy_(source)
        return "copied"
    index = [torch.as_tensor(m, device=tensor.device) for m in axis_maps]
    values = source
    for dim, idx in enumerate(index):
        values = values.index_select(dim, idx.clamp(min=0))
    known = torch.ones_like(tensor, dtype=torch.bool)
    for dim, idx in enumerate(index):
        shape = [1] * tensor.dim()
        shape[dim] = -1
        known = known & (idx >= 0).view(shape)
    if not bool(known.any()):
        return "new"
    # An old output (axis 0 known) must not see new inputs or taps: zero there;
    # a new output channel keeps the child's initialisation.
    old_output = (index[0] >= 0).view([-1] + [1] * (tensor.dim() - 1))
    tensor.copy_(torch.where(known, values, torch.where(old_output, 0.0, tensor)))
    return "mapped"


def _identity(index: np.ndarray) -> bool:
    return bool(np.array_equal(index, np.arange(len(index))))
