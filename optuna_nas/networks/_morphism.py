"""Weight inheritance between related architectures (LEMONADE's Lamarckian inheritance).

:func:`inherit_weights` needs only the parent's architecture and weights and the
child's architecture, never the operator that related them, so any algorithm (or a
user) can warm-start any child from any parent. When the child is reachable from the
parent by network morphisms, the child computes the parent's function exactly (in
eval mode); otherwise it gets a warm start.

How a child tensor gets its value
---------------------------------
Each axis of each tensor is described by what it indexes: channel *segments*
(``(group, width, half)``: which channel group, its width in this network and, for
the two convs of a ``FactorizedReduce``, which half of it), a kernel axis, or
anything else. Channels of one group are tied together by identities, sums and
depthwise ops, so each group gets one map from child to parent channels:

- widened: the old channels come first, the new ones after them;
- pruned: the parent channels whose producing filters have the largest L1 norm;

both within each half for a group that a ``FactorizedReduce`` writes (it
concatenates a ``C // 2`` and a ``C - C // 2`` channel conv).

A child entry whose every index maps to the parent is copied. An entry of an old
output channel that reads a new input channel or a new kernel tap is zero, so new
channels and taps cannot change old outputs; a new output channel keeps the child's
own initialisation. Kernels are aligned on their centre (1x1 -> 3x3, 3x3 -> 5x5).

An op inherits the parent's op of its family (same op or other kernel size) on the
same edge; an op on an edge that held ``none`` in the parent is silenced: its last
BatchNorm gets gamma = beta = 0, so it outputs exactly zero until trained; any other
op starts fresh. A cell appended
to a stage starts as a copy of the stage's last parent cell; in NB201, when the
genotype allows it (see :func:`identity_init_edges`), one parametric op on every
path that bypasses the ``skip_connect`` 3<-0 is silenced, so the cell is the
identity. No initialisation makes an appended DARTS cell the identity.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, fields

import numpy as np
import torch
from torch import nn

from optuna_nas.encoding import Architecture, Cell
from optuna_nas.networks._darts import STEM_MULTIPLIER, DartsNetwork
from optuna_nas.networks._nb201 import NB201Network
from optuna_nas.networks._operations import FactorizedReduce

Segment = tuple[str, int, int | None]
"""``(group, width of the group, half)``; half ``None`` is the whole group."""
KERNEL = "kernel"
Axis = list[Segment] | str | None
"""Channel segments, :data:`KERNEL`, or ``None`` for any other axis."""

_PARAMETRIC = {"nor_conv_1x1", "nor_conv_3x3"}
# Ops whose weights can move into each other (a kernel size apart).
_FAMILY = {
    "nor_conv_1x1": "nor_conv",
    "nor_conv_3x3": "nor_conv",
    "sep_conv_3x3": "sep_conv",
    "sep_conv_5x5": "sep_conv",
    "dil_conv_3x3": "dil_conv",
    "dil_conv_5x5": "dil_conv",
}
_CELL_KEY = re.compile(r"^(?P<cell>stages\.\d+\.(?P<index>\d+)|reductions\.\d+)\.(?P<rest>.+)$")
_EDGE_KEY = re.compile(r"^edges\.(?P<target>\d+)_(?P<source>\d+)\.")


@dataclass
class TransferReport:
    """What happened to each entry of the child's state dict.

    Attributes
    ----------
    copied:
        Copied unchanged from the parent.
    mapped:
        Copied through a channel or kernel map (widened, pruned, other kernel size).
    zeroed:
        Set to zero so that a new op outputs zero (function-preserving).
    new:
        No counterpart in the parent: the child's own initialisation.
    shape_mismatch:
        Same name, other shape, left alone (:func:`transfer_weights` only).
    """

    copied: list[str] = field(default_factory=list)
    shape_mismatch: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    mapped: list[str] = field(default_factory=list)
    zeroed: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        """The number of entries in each list."""
        return {f.name: len(getattr(self, f.name)) for f in fields(self)}


def transfer_weights(
    parent: dict[str, torch.Tensor] | nn.Module, child: nn.Module
) -> TransferReport:
    """Copy every parent tensor whose name and shape match into ``child``, in place.

    Module names are structural (the same edge has the same name in every
    architecture), so related architectures share most names. Entries with a new
    name or another shape keep the child's own initialisation and are reported.
    :func:`inherit_weights` also maps channels and kernels and preserves the function.
    """
    state = parent.state_dict() if isinstance(parent, nn.Module) else parent
    report = TransferReport()
    with torch.no_grad():
        for name, tensor in child.state_dict().items():
            source = state.get(name)
            if source is None:
                report.new.append(name)
            elif source.shape != tensor.shape:
                report.shape_mismatch.append(name)
            else:
                tensor.copy_(source.to(tensor.device, tensor.dtype))
                report.copied.append(name)
    return report


def inherit_weights(
    parent_arch: Architecture,
    parent_state: dict[str, torch.Tensor],
    child_arch: Architecture,
    child_model: nn.Module,
) -> TransferReport:
    """Initialise ``child_model`` from a parent's weights, in place.

    Parameters
    ----------
    parent_arch:
        The parent's architecture.
    parent_state:
        The parent network's ``state_dict()`` (parameters and BatchNorm buffers).
    child_arch:
        The child's architecture, as encoded (module names follow its edge labels).
    child_model:
        The child network, freshly built from ``child_arch``; entries without a
        counterpart in the parent keep its initialisation.

    Returns
    -------
    TransferReport
        Which child entries were copied, mapped, zeroed or left new.

    Notes
    -----
    If ``child_arch`` is reachable from ``parent_arch`` by network morphisms
    (activating a ``none`` edge with a parametric op, widening, enlarging a kernel,
    appending an identity-able NB201 cell, in any combination), the child computes
    the same function as the parent in eval mode, up to float rounding. Otherwise
    the child gets a warm start: matching tensors are copied, shrunk ones keep the
    most important channels, the rest is freshly initialised.
    """
    in_channels = child_model.stem.conv.in_channels
    num_classes = child_model.classifier.out_features
    with torch.device("meta"):  # only the module structure is needed: no memory, no compute
        parent_model = _network_class(parent_arch)(parent_arch, in_channels, num_classes)
    parent_axes = _tensor_axes(parent_model, _channel_contexts(parent_arch))
    child_axes = _tensor_axes(child_model, _channel_contexts(child_arch))
    maps = _group_maps(parent_axes, child_axes, parent_state)
    policies = _edge_policies(parent_arch, child_arch)
    silenced = _identity_cell_edges(parent_arch, child_arch)
    modules = dict(child_model.named_modules())

    status: dict[str, str] = {}
    reinit: dict[str, bool] = {}  # edge module -> silence it after a fresh initialisation
    with torch.no_grad():
        for key, tensor in child_model.state_dict().items():
            source, edge, policy = _source(key, parent_arch, child_arch, policies)
            if policy != "copy":
                reinit[edge] = policy == "zero"
                status[key] = "new"
            elif source in parent_state and source in parent_axes:
                status[key] = _copy_mapped(
                    tensor, parent_state[source], child_axes[key], parent_axes[source], maps
                )
            else:
                status[key] = "new"
        for edge, silence in reinit.items():
            for module in modules[edge].modules():
                if hasattr(module, "reset_parameters"):
                    module.reset_parameters()
            if silence:
                silenced.add(edge)
        for edge in silenced:
            if edge in modules:
                for key in _silence(modules[edge]):
                    status[f"{edge}.{key}"] = "zeroed"
    report = TransferReport()
    for key, state in status.items():
        getattr(report, state).append(key)
    return report


def identity_init_edges(arch: Architecture) -> frozenset[tuple[int, int]] | None:
    """Edges to silence so that a new NB201 cell of ``arch``'s genotype is the identity.

    A cell can be initialised as the identity iff its edge 3<-0 is ``skip_connect``
    and every other path from the input to the output passes a parametric op; the
    last such op of each path is silenced (the earlier ones keep learning signal).

    Returns
    -------
    frozenset of (target, source) or None
        The edges, or ``None`` when no initialisation of this genotype is the
        identity (or ``arch`` is not an NB201 architecture).
    """
    if arch.space != "nb201":
        return None
    ops = {
        (k + 1, src): op
        for k, node in enumerate(arch.without_dead_ops().normal)
        for op, src in node
        if op != "none"
    }
    if ops.get((3, 0)) != "skip_connect":
        return None
    silenced = set()
    for path in _paths(ops, 0, 3):
        if path == [(3, 0)]:
            continue
        parametric = [edge for edge in path if ops[edge] in _PARAMETRIC]
        if not parametric:
            return None
        silenced.add(parametric[-1])
    return frozenset(silenced)


# ---------------------------------------------------------------------- which source
def _network_class(arch: Architecture) -> type[nn.Module]:
    return {"nb201": NB201Network, "darts": DartsNetwork}[arch.space]


def _source(
    key: str, parent: Architecture, child: Architecture, policies: dict[tuple, str]
) -> tuple[str, str, str]:
    """``(parent key, edge module or "", policy)`` of a child key.

    A cell beyond the parent's last cell of its stage reads that last cell, so an
    appended cell starts as a copy of its predecessor.
    """
    match = _CELL_KEY.match(key)
    if match is None:
        return key, "", "copy"
    cell, rest = match["cell"], match["rest"]
    if match["index"] is not None and int(match["index"]) >= parent.cells:
        cell_source = cell.rsplit(".", 1)[0] + f".{parent.cells - 1}"
    else:
        cell_source = cell
    edge = _EDGE_KEY.match(rest)
    if edge is None:
        return f"{cell_source}.{rest}", "", "copy"
    genotype = "reduce" if cell.startswith("reductions") else "normal"
    target, src = int(edge["target"]), int(edge["source"])
    policy = policies.get((genotype, target, src), "fresh")
    return f"{cell_source}.{rest}", f"{cell}.edges.{target}_{src}", policy


def _edge_policies(parent: Architecture, child: Architecture) -> dict[tuple[str, int, int], str]:
    """``{(cell, target, source): "copy" | "zero" | "fresh"}`` for the child's ops.

    A child branch is matched to the parent branch of its node with the same input,
    else to the parent branch left over (a ``none`` branch's input is irrelevant).
    It copies a parent op of its family on the same edge, is silenced where the
    parent had ``none`` (so the node's value is unchanged), and is fresh otherwise.
    """
    if parent.space != child.space:
        return {}
    policies = {}
    for name, cell in child.cells_by_name():
        parent_cell: Cell = getattr(parent, name)
        # NB201 builds live edges only: a dead parent op has no weights.
        live_cell = getattr(parent.without_dead_ops(), name)
        n_inputs = child.rule.n_inputs
        for k, node in enumerate(cell):
            parent_node = parent_cell[k] if k < len(parent_cell) else ()
            live = set(live_cell[k]) if k < len(live_cell) else set()
            for (op, src), match in _match_branches(node, parent_node):
                if op == "none":
                    continue
                if match is not None and match[0] == "none":
                    policy = "zero"
                elif (
                    match is not None
                    and match[1] == src
                    and match in live
                    and _FAMILY.get(match[0], match[0]) == _FAMILY.get(op, op)
                ):
                    policy = "copy"
                else:
                    policy = "fresh"
                policies[(name, n_inputs + k, src)] = policy
    return policies


def _match_branches(node: tuple, parent_node: tuple) -> list[tuple[tuple, tuple | None]]:
    """Pair each child branch with the parent branch on the same input, else a leftover."""
    left = list(parent_node)
    matches = []
    for _, src in node:
        same = [p for p in left if p[1] == src]
        matches.append(same[0] if same else None)
        if same:
            left.remove(same[0])
    # Branches without a same-input partner take the parent's leftover branches in order.
    matches = [m if m is not None or not left else left.pop(0) for m in matches]
    return list(zip(node, matches, strict=True))


def _identity_cell_edges(parent: Architecture, child: Architecture) -> set[str]:
    """Edge modules to silence in NB201 cells the child appends to each stage."""
    if child.space != "nb201" or parent.space != "nb201" or child.cells <= parent.cells:
        return set()
    edges = identity_init_edges(child) or frozenset()
    return {
        f"stages.{s}.{i}.edges.{t}_{src}"
        for s in range(3)
        for i in range(parent.cells, child.cells)
        for t, src in edges
    }


def _paths(ops: dict[tuple[int, int], str], start: int, end: int) -> Iterator[list]:
    if start == end:
        yield []
        return
    for target, src in ops:
        if src == start:
            for rest in _paths(ops, target, end):
                yield [(target, src), *rest]


def _silence(module: nn.Module) -> list[str]:
    """Zero gamma and beta of the module's last BatchNorm: it then outputs exactly zero."""
    norms = [(name, m) for name, m in module.named_modules() if isinstance(m, nn.BatchNorm2d)]
    if not norms:
        return []
    name, norm = norms[-1]
    norm.weight.zero_()
    norm.bias.zero_()
    prefix = f"{name}." if name else ""
    return [f"{prefix}weight", f"{prefix}bias"]


# ---------------------------------------------------------------------- channel layout
def _channel_contexts(arch: Architecture) -> dict[str, tuple[Axis, Axis]]:
    """``{module prefix: (input channels, output channels)}``, mirroring the network."""
    c = arch.channels
    if arch.space == "nb201":
        stage = [[(f"stages.{s}", c << s, None)] for s in range(3)]
        contexts: dict[str, tuple[Axis, Axis]] = {
            "stem": (None, stage[0]),
            "head_bn": (None, stage[2]),
            "classifier": (stage[2], None),
        }
        for s in range(3):
            contexts[f"stages.{s}"] = (stage[s], stage[s])
        for r in range(2):
            contexts[f"reductions.{r}.conv_a"] = (stage[r], stage[r + 1])
            contexts[f"reductions.{r}.conv_b"] = (stage[r + 1], stage[r + 1])
            contexts[f"reductions.{r}.shortcut"] = (stage[r], stage[r + 1])
        return contexts
    # DARTS: each cell is one group; its output concatenates one copy per node.
    stem: list[Segment] = [("stem", STEM_MULTIPLIER * c, None)]
    contexts = {"stem": (None, stem)}
    s0 = s1 = stem
    cells = [(f"stages.0.{i}", 0) for i in range(arch.cells)]
    for s in (1, 2):
        cells += [(f"reductions.{s - 1}", s)] + [(f"stages.{s}.{i}", s) for i in range(arch.cells)]
    for name, stage in cells:
        group: list[Segment] = [(name, c << stage, None)]
        contexts[f"{name}.pre0"] = (s0, group)
        contexts[f"{name}.pre1"] = (s1, group)
        contexts[f"{name}.edges"] = (group, group)
        s0, s1 = s1, group * len(arch.normal)
    contexts["classifier"] = (s1, None)
    return contexts


def _tensor_axes(model: nn.Module, contexts: dict[str, tuple[Axis, Axis]]) -> dict[str, list[Axis]]:
    """What each axis of each state-dict entry of ``model`` indexes."""
    modules = dict(model.named_modules())
    axes: dict[str, list[Axis]] = {}
    for name, module in modules.items():
        if not isinstance(module, (nn.Conv2d, nn.BatchNorm2d, nn.Linear)):
            continue
        parts = name.split(".")
        prefix = name  # the longest prefix with a context
        while prefix and prefix not in contexts:
            prefix = prefix.rpartition(".")[0]
        inputs, outputs = contexts.get(prefix, (None, None))
        owner = modules[name.rpartition(".")[0]] if "." in name else model
        if isinstance(owner, FactorizedReduce) and parts[-1] in ("conv1", "conv2"):
            # The two convs write the two halves of the output channels.
            [(group, width, _)] = outputs
            outputs = [(group, width, 0 if parts[-1] == "conv1" else 1)]
        if isinstance(module, nn.Conv2d):
            if module.groups > 1:  # depthwise: one filter per input channel
                weight = [inputs, None, KERNEL, KERNEL]
            else:
                weight = [outputs, inputs, KERNEL, KERNEL]
            axes[f"{name}.weight"] = weight
        elif isinstance(module, nn.Linear):
            axes[f"{name}.weight"] = [None, inputs]
            axes[f"{name}.bias"] = [None]
        else:
            for entry in ("weight", "bias", "running_mean", "running_var"):
                axes[f"{name}.{entry}"] = [outputs]
            axes[f"{name}.num_batches_tracked"] = []
    return axes


def _half(width: int, half: int | None) -> np.ndarray:
    """Group channels a segment holds, as indices into the whole group."""
    if half is None:
        return np.arange(width)
    return np.arange(width // 2) if half == 0 else np.arange(width // 2, width)


def _group_maps(
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
            channels = _half(width, half)
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
        maps[group] = np.concatenate(
            [_channel_map(_half(pw, h), len(_half(cw, h)), importance[group]) for h in halves]
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
        and sum(len(_half(w, h)) for _, w, h in parent) == parent_size
        and sum(len(_half(w, h)) for _, w, h in child) == child_size
        and all(g in maps for g, _, _ in child)
    ):
        parts, offset = [], 0
        for (group, child_width, half), (_, parent_width, _) in zip(child, parent, strict=True):
            part = maps[group][_half(child_width, half)]
            # group index -> index within the parent tensor: where the segment's half starts
            start = parent_width // 2 if half == 1 else 0
            parts.append(np.where(part >= 0, part - start + offset, -1))
            offset += len(_half(parent_width, half))
        index = np.concatenate(parts)
    else:  # unrelated layouts: keep the leading entries
        index = np.arange(child_size)
    return np.where((index >= 0) & (index < parent_size), index, -1)


def _copy_mapped(
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
