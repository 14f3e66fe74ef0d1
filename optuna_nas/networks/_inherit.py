"""Weight inheritance between related architectures (LEMONADE's Lamarckian inheritance).

:func:`inherit_weights` needs only the parent's architecture and weights and the
child's architecture, never the operator that related them, so any algorithm (or a
user) can warm-start any child from any parent. When the child is reachable from the
parent by network morphisms, the child computes the parent's function exactly (in
eval mode); otherwise it gets a warm start.

The work is split along its seams: ``_sources`` decides which parent tensor each
child tensor reads (and which new ops are silenced), the network classes state
their channel layouts (``_layout``), and ``_channel_maps`` maps channels and kernel
taps between the two layouts. No initialisation makes an appended DARTS cell the
identity.
"""

from __future__ import annotations

import torch
from torch import nn

from optuna_nas.encoding import Architecture
from optuna_nas.networks._build import network_class
from optuna_nas.networks._channel_maps import copy_mapped, group_maps
from optuna_nas.networks._layout import tensor_axes
from optuna_nas.networks._sources import edge_policies, identity_cell_edges, silence, source_key
from optuna_nas.networks._transfer import TransferReport


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
    parent_class, child_class = network_class(parent_arch.space), network_class(child_arch.space)
    with torch.device("meta"):  # only the module structure is needed: no memory, no compute
        parent_model = parent_class(parent_arch, in_channels, num_classes)
    parent_axes = tensor_axes(parent_model, parent_class.channel_layout(parent_arch))
    child_axes = tensor_axes(child_model, child_class.channel_layout(child_arch))
    maps = group_maps(parent_axes, child_axes, parent_state)
    policies = edge_policies(parent_arch, child_arch)
    silenced = identity_cell_edges(parent_arch, child_arch)
    modules = dict(child_model.named_modules())

    status: dict[str, str] = {}
    reinit: dict[str, bool] = {}  # edge module -> silence it after a fresh initialisation
    with torch.no_grad():
        for key, tensor in child_model.state_dict().items():
            source, edge, policy = source_key(key, parent_arch, child_arch, policies)
            if policy != "copy":
                reinit[edge] = policy == "zero"
                status[key] = "new"
            elif source in parent_state and source in parent_axes:
                status[key] = copy_mapped(
                    tensor, parent_state[source], child_axes[key], parent_axes[source], maps
                )
            else:
                status[key] = "new"
        for edge, silent in reinit.items():
            for module in modules[edge].modules():
                if hasattr(module, "reset_parameters"):
                    module.reset_parameters()
            if silent:
                silenced.add(edge)
        for edge in silenced:
            if edge in modules:
                for key in silence(modules[edge]):
                    status[f"{edge}.{key}"] = "zeroed"
    report = TransferReport()
    for key, state in status.items():
        getattr(report, state).append(key)
    return report
