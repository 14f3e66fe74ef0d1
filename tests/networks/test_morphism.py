"""inherit_weights: network morphisms are exact, anything else is a warm start."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from optuna_nas import NB201Space
from optuna_nas.encoding import identity_init_edges
from optuna_nas.lemonade import OPERATORS, random_child
from optuna_nas.networks import inherit_weights
from tests.morphisms import (
    DARTS,
    NB201,
    SHAPES,
    SPACES,
    inherited,
    max_difference,
    random_network,
    with_branch,
)
from tests.strategies import architectures

EXACT = [op for op in OPERATORS if op.exact]
TOLERANCE = 1e-4
property_settings = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)


@st.composite
def parents(draw: st.DrawFn, kind: str, operator: str) -> tuple:
    """A space and a parent in it that ``operator`` can usually grow."""
    space = draw(st.sampled_from(SPACES[kind]))
    arch = draw(architectures(space))
    if operator == "widen":
        arch = arch.replace(channels=space.channels[0])
    if operator == "deepen":
        arch = with_branch(arch.replace(cells=1), "normal", 2, 0, "skip_connect")  # edge 3<-0
    if operator in ("activate_edge", "enlarge_kernel"):
        # put the op the operator starts from on a random branch
        cell = draw(st.sampled_from([name for name, _ in arch.cells_by_name()]))
        k = draw(st.integers(0, len(arch.normal) - 1))
        j = draw(st.integers(0, len(arch.normal[k]) - 1))
        small = ["nor_conv_1x1"] if kind == "nb201" else ["sep_conv_3x3", "dil_conv_3x3"]
        op = "none" if operator == "activate_edge" else draw(st.sampled_from(small))
        arch = with_branch(arch, cell, k, j, op)
    return space, arch


CASES = [(kind, op) for kind in SPACES for op in EXACT if (kind, op.name) != ("darts", "deepen")]


@pytest.mark.parametrize(("kind", "operator"), CASES, ids=[f"{k}-{o.name}" for k, o in CASES])
@property_settings
@given(data=st.data())
def test_each_exact_morphism_preserves_the_function(kind, operator, data) -> None:
    space, parent_arch = data.draw(parents(kind, operator.name))
    child_arch = operator(parent_arch, space, np.random.default_rng(data.draw(st.integers(0, 99))))
    assume(child_arch is not None)
    shape = data.draw(st.sampled_from(SHAPES))
    parent = random_network(space, parent_arch, shape[1], seed=data.draw(st.integers(0, 99)))
    child, report = inherited(space, parent_arch, parent, child_arch, shape[1])
    assert max_difference(parent, child, shape) < TOLERANCE, (str(parent_arch), str(child_arch))
    if operator.name == "activate_edge":
        assert report.zeroed  # the new op starts silent


@pytest.mark.parametrize("kind", list(SPACES))
@settings(property_settings, max_examples=40)
@given(data=st.data())
def test_chains_of_exact_morphisms_preserve_the_function(kind, data) -> None:
    # inherit_weights sees only the two ends: it must not need the intermediate steps
    space = data.draw(st.sampled_from(SPACES[kind]))
    parent_arch = data.draw(architectures(space)).replace(channels=space.channels[0], cells=1)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    child_arch = parent_arch
    for _ in range(data.draw(st.integers(2, 4))):
        step = random_child(child_arch, space, rng, EXACT)
        if step is not None:
            child_arch = step[0]
    assume(child_arch != parent_arch)
    shape = data.draw(st.sampled_from(SHAPES))
    parent = random_network(space, parent_arch, shape[1], seed=3)
    child, _ = inherited(space, parent_arch, parent, child_arch, shape[1])
    assert max_difference(parent, child, shape) < TOLERANCE, (str(parent_arch), str(child_arch))


@pytest.mark.parametrize("space", [NB201, DARTS[1]], ids=["nb201", "darts"])
def test_identical_architectures_reproduce_the_parent(space) -> None:
    arch = space.sample(0)
    parent = random_network(space, arch, 3, seed=0)
    child, report = inherited(space, arch, parent, arch, 3)
    assert report.copied == list(parent.state_dict())
    assert not (report.mapped or report.zeroed or report.new)
    for key, tensor in parent.state_dict().items():
        assert torch.equal(child.state_dict()[key], tensor), key
    assert max_difference(parent, child, SHAPES[0]) == 0.0
    # control: the check can fail, a child without inheritance differs
    assert max_difference(parent, space.build(arch).eval(), SHAPES[0]) > TOLERANCE


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_unrelated_architectures_give_a_warm_start(data) -> None:
    kind = data.draw(st.sampled_from(["nb201", "darts"]))
    parent_space = data.draw(st.sampled_from(SPACES[kind]))
    child_space = data.draw(st.sampled_from([NB201, *DARTS]))  # possibly another cell kind
    parent_arch = data.draw(architectures(parent_space))
    child_arch = data.draw(architectures(child_space))
    parent = random_network(parent_space, parent_arch, 1, seed=0)
    child, report = inherited(child_space, parent_arch, parent, child_arch, 1)
    # every child entry is accounted for exactly once
    entries = report.copied + report.mapped + report.zeroed + report.new
    assert sorted(entries) == sorted(child.state_dict())
    assert "stem.conv.weight" in report.copied + report.mapped
    out = child(torch.randn(2, 1, 28, 28))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_activated_edge_starts_silent_and_new_channels_read_nothing() -> None:
    space = NB201Space(channels=[4, 8], cells=1)
    parent_arch = space.from_nb201_string(
        "|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"
    )
    child_arch = space.from_nb201_string(
        "|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    ).replace(channels=8)
    parent = random_network(space, parent_arch, 3, seed=0)
    child, report = inherited(space, parent_arch, parent, child_arch, 3)
    state, old = child.state_dict(), parent.state_dict()
    # 3<-2 was none: silenced (2<-0, dead in the parent, now feeds it)
    assert {"stages.0.0.edges.3_2.bn.weight", "stages.0.0.edges.3_2.bn.bias"} <= set(report.zeroed)
    assert not state["stages.1.0.edges.3_2.bn.weight"].any()
    # 3<-1 grew from 1x1 to 3x3: centre tap is the old weight, the ring is zero
    weight, before = (
        state["stages.0.0.edges.3_1.conv.weight"],
        old["stages.0.0.edges.3_1.conv.weight"],
    )
    assert torch.equal(weight[:4, :4, 1, 1], before[:, :, 0, 0])
    ring = weight[:4, :4].clone()
    ring[:, :, 1, 1] = 0
    assert not ring.any()
    # old filters do not read new channels; new filters do (fresh init)
    assert not weight[:4, 4:].any() and weight[4:].abs().sum() > 0
    assert "stages.0.0.edges.3_1.conv.weight" in report.mapped
    assert max_difference(parent, child, SHAPES[0]) < TOLERANCE


def test_pruning_keeps_the_filters_of_largest_l1_norm() -> None:
    space = NB201Space(channels=[4, 8], cells=1)
    parent_arch = space.from_nb201_string(
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    ).replace(channels=8)
    parent = random_network(space, parent_arch, 3, seed=0)
    keep = [1, 4, 6, 7]
    with torch.no_grad():  # make the filters producing the kept first-stage channels heavy
        for key, tensor in parent.state_dict().items():
            if key == "stem.conv.weight" or (
                key.startswith("stages.0.") and key.endswith("conv.weight")
            ):
                tensor[keep] *= 100
    child_arch = parent_arch.replace(channels=4)
    child, report = inherited(space, parent_arch, parent, child_arch, 3)
    state, old = child.state_dict(), parent.state_dict()
    assert torch.equal(state["stem.conv.weight"], old["stem.conv.weight"][keep])
    conv = "stages.0.0.edges.1_0.conv.weight"
    assert torch.equal(state[conv], old[conv][keep][:, keep])
    assert torch.equal(state["stem.bn.running_var"], old["stem.bn.running_var"][keep])
    assert not report.new


def test_a_new_nb201_cell_is_the_identity_when_its_genotype_allows() -> None:
    space = NB201Space(channels=4, cells=[1, 2])
    # paths 0->1->3 (conv, skip) and 0->2->3 (pool, conv) bypass the skip 3<-0
    arch = space.from_nb201_string(
        "|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|skip_connect~1|nor_conv_1x1~2|"
    )
    assert identity_init_edges(arch) == {(1, 0), (3, 2)}
    parent = random_network(space, arch, 1, seed=0)
    child, report = inherited(space, arch, parent, arch.replace(cells=2), 1)
    assert "stages.2.1.edges.1_0.bn.weight" in report.zeroed
    assert "stages.2.1.edges.1_0.conv.weight" in report.copied  # from stages.2.0
    assert max_difference(parent, child, SHAPES[1]) < TOLERANCE
    # no initialisation of a cell with a parameter-free bypass is the identity
    assert (
        identity_init_edges(arch.replace(normal=((("skip_connect", 0),), *arch.normal[1:]))) is None
    )


def test_inherit_weights_accepts_a_state_dict_on_another_device_and_dtype() -> None:
    arch = NB201.sample(1)
    parent = random_network(NB201, arch, 3, seed=0)
    state = {k: v.double() if v.is_floating_point() else v for k, v in parent.state_dict().items()}
    child = NB201.build(arch).eval()
    inherit_weights(arch, state, arch, child)
    assert max_difference(parent, child, SHAPES[0]) < 1e-6
