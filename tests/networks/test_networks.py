"""Architecture -> torch.nn.Module: shapes, gradients, wiring and stable module names."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from optuna_nas import Architecture, DartsSpace, NB201Space
from optuna_nas.networks import (
    DartsCell,
    DartsNetwork,
    NB201Cell,
    NB201Network,
    build_network,
    nb201_op,
)
from tests.strategies import SMALL_SPACES, architectures, space_id

SHAPES = [(1, 28, 28), (3, 32, 32), (3, 8, 8), (2, 9, 9)]


def edge_names(model: nn.Module, edge: str) -> dict[str, torch.Size]:
    """``{name: shape}`` of the state (parameters and buffers) under every ``edges.<edge>``."""
    marker = f".edges.{edge}."
    return {k: v.shape for k, v in model.state_dict().items() if marker in k}


# ---------------------------------------------------------------------- forward / backward
@pytest.mark.parametrize("space", SMALL_SPACES, ids=space_id)
@settings(max_examples=6)
@given(data=st.data())
def test_forward_and_backward_on_all_input_shapes(space, data) -> None:
    arch = data.draw(architectures(space))
    for c, h, w in SHAPES:
        torch.manual_seed(0)
        model = space.build(arch, in_channels=c, num_classes=7)
        assert type(model) is {"nb201": NB201Network, "darts": DartsNetwork}[arch.space]
        x = torch.randn(2, c, h, w)
        out = model(x)
        assert out.shape == (2, 7)
        assert torch.isfinite(out).all()
        F.cross_entropy(out, torch.tensor([0, 6])).backward()
        assert model.classifier.weight.grad is not None
        assert torch.isfinite(model.classifier.weight.grad).all()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)


def test_stem_gets_gradients_through_a_live_cell() -> None:
    space = NB201Space(channels=4, cells=1)
    arch = space.from_nb201_string(
        "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|nor_conv_1x1~1|none~2|"
    )
    model = space.build(arch, 3, 10)
    model(torch.randn(2, 3, 16, 16)).sum().backward()
    assert model.stem.conv.weight.grad is not None
    assert model.stem.conv.weight.grad.abs().sum() > 0


def test_build_validates_against_the_space() -> None:
    space = NB201Space(channels=4, cells=1)
    arch = NB201Space(channels=8, cells=1).sample(0)
    with pytest.raises(ValueError, match="channels=8 is not one of"):
        space.build(arch)
    with pytest.raises(ValueError, match="does not belong"):
        space.build(DartsSpace(channels=4, cells=1, nodes=2).sample(0))


def test_network_structure_follows_the_macro_choices() -> None:
    arch = NB201Space(channels=6, cells=2).sample(5)
    model = build_network(arch, in_channels=1, num_classes=3)
    assert len(model.stages) == 3 and all(len(stage) == 2 for stage in model.stages)
    assert len(model.reductions) == 2
    assert model.stem.conv.in_channels == 1 and model.stem.conv.out_channels == 6
    assert model.reductions[1].conv_b.conv.out_channels == 24
    assert model.classifier.in_features == 24 and model.classifier.out_features == 3

    darts = DartsSpace(channels=4, cells=2, nodes=3).sample(5)
    model = build_network(darts, in_channels=3, num_classes=5)
    assert [len(stage) for stage in model.stages] == [2, 2, 2]
    assert len(model.reductions) == 2  # layers = 3 * cells + 2 = 8
    assert model.stem.conv.out_channels == 3 * 4
    assert model.classifier.in_features == 3 * 16  # nodes * 4C
    assert model.stages[2][1].out_channels == 3 * 16


# ---------------------------------------------------------------------- NB201 cell semantics
NONE_CELL = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def nb201_cell(text: str, channels: int = 4) -> NB201Cell:
    arch = NB201Space(channels=channels, cells=1).from_nb201_string(text)
    return NB201Cell(arch, channels).eval()


def test_nb201_cell_wiring_by_hand() -> None:
    x = torch.randn(2, 4, 6, 6)
    identity = nb201_cell("|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|")
    assert torch.equal(identity(x), x)
    # node1 = x, node2 = x + node1 = 2x, node3 = x + node1 + node2 = 4x
    four = nb201_cell(
        "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
    )
    assert torch.allclose(four(x), 4 * x)
    pool = nb201_cell("|none~0|+|none~0|none~1|+|avg_pool_3x3~0|none~1|none~2|")
    expected = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    assert torch.allclose(pool(x), expected)
    conv = nb201_cell("|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|")
    op = conv.edges["3_0"]
    assert torch.allclose(conv(x), op.bn(op.conv(F.relu(x))))
    assert torch.equal(nb201_cell(NONE_CELL)(x), torch.zeros_like(x))


@pytest.mark.parametrize("seed", range(16))
def test_nb201_cell_computes_the_full_dag(seed) -> None:
    """The built cell equals the whole DAG with arbitrary weights on the unbuilt edges.

    An op into a node that cannot reach the output has no effect at all, whatever
    its weights. An op on a node the input cannot reach sees zeros; the built cell
    treats it as ``none`` (zero output). NAS-Bench-201 instead builds it, and a conv
    there adds its BatchNorm's shift, which later ReLUs can turn into a different
    function; so the reference gives such convs a zero shift.
    """
    space = NB201Space(channels=3, cells=1)
    torch.manual_seed(seed)
    arch = space.sample(seed)
    cell = NB201Cell(arch, 3).double().eval()
    reachable = {0}
    for k, node in enumerate(arch.normal):
        if any(op != "none" and src in reachable for op, src in node):
            reachable.add(k + 1)
    unbuilt = {}
    for k, node in enumerate(arch.normal):
        for op, src in node:
            name = f"{k + 1}_{src}"
            if op != "none" and name not in cell.edges:
                module = unbuilt[name] = nb201_op(op, 3).double().eval()
                for p in module.parameters():
                    nn.init.normal_(p)
                if src not in reachable and op.startswith("nor_conv"):
                    nn.init.zeros_(module.bn.bias)

    def full_dag(x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for k, node in enumerate(arch.normal):
            total = torch.zeros_like(x)
            for op, src in node:
                if op != "none":
                    name = f"{k + 1}_{src}"
                    module = cell.edges[name] if name in cell.edges else unbuilt[name]
                    total = total + module(nodes[src])
            nodes.append(total)
        return nodes[-1]

    x = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(cell(x), full_dag(x))
    assert set(cell.edges) | set(unbuilt) == {
        f"{k + 1}_{src}" for k, node in enumerate(arch.normal) for op, src in node if op != "none"
    }


def test_nb201_dead_ops_are_not_built() -> None:
    space = NB201Space(channels=4, cells=1)
    arch = space.from_nb201_string(
        "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    )
    model = space.build(arch)
    assert edge_names(model, "1_0") == {}
    assert not any(".edges.1_0" in name for name, _ in model.named_modules())
    assert sum(p.numel() for p in model.parameters()) == sum(
        p.numel() for p in space.build(arch.without_dead_ops()).parameters()
    )
    live = space.from_nb201_string(
        "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|skip_connect~1|none~2|"
    )
    assert set(edge_names(space.build(live), "1_0")) == {
        f"stages.{s}.0.edges.1_0.{p}"
        for s in range(3)
        for p in (
            "conv.weight",
            "bn.weight",
            "bn.bias",
            "bn.running_mean",
            "bn.running_var",
            "bn.num_batches_tracked",
        )
    }


def test_all_none_nb201_network_runs_and_ignores_its_input() -> None:
    space = NB201Space(channels=4, cells=2)
    arch = space.from_nb201_string(NONE_CELL)
    model = space.build(arch).eval()
    assert not any(".edges." in name for name, _ in model.named_parameters())
    with torch.no_grad():
        a = model(torch.randn(2, 3, 16, 16))
        b = model(torch.randn(2, 3, 16, 16))
    assert a.shape == (2, 10) and torch.equal(a, b)
    model.train()
    model(torch.randn(2, 3, 16, 16)).sum().backward()
    assert model.classifier.weight.grad is not None


# ---------------------------------------------------------------------- DARTS cell semantics
def test_darts_cell_wiring_by_hand() -> None:
    cell_spec = ((("skip_connect", 0), ("skip_connect", 1)), (("none", 0), ("max_pool_3x3", 2)))
    cell = DartsCell(cell_spec, 6, 5, 4, reduction=False, reduction_prev=False).eval()
    s0, s1 = torch.randn(2, 6, 8, 8), torch.randn(2, 5, 8, 8)
    node2 = cell.pre0(s0) + cell.pre1(s1)
    node3 = F.max_pool2d(node2, 3, stride=1, padding=1)
    out = cell(s0, s1)
    assert out.shape == (2, 8, 8, 8) and cell.out_channels == 8
    assert torch.allclose(out, torch.cat([node2, node3], dim=1))
    assert set(cell.edges) == {"2_0", "2_1", "3_0", "3_2"}


def test_darts_reduction_cell_halves_the_resolution() -> None:
    cell_spec = ((("skip_connect", 0), ("sep_conv_5x5", 1)), (("dil_conv_5x5", 2), ("none", 1)))
    for size, half in [(8, 4), (9, 5), (7, 4)]:
        cell = DartsCell(cell_spec, 6, 5, 4, reduction=True, reduction_prev=True)
        out = cell(torch.randn(2, 6, 2 * size, 2 * size), torch.randn(2, 5, size, size))
        assert out.shape == (2, 8, half, half)


# ---------------------------------------------------------------------- stable module names
def _edges(arch: Architecture):
    for name, cell in arch.cells_by_name():
        for k, node in enumerate(cell):
            for op, src in node:
                yield name, f"{k + arch.rule.n_inputs}_{src}", op


def _live(arch: Architecture) -> set[tuple[str, str, str]]:
    return {e for e in _edges(arch.without_dead_ops()) if arch.space == "darts" or e[2] != "none"}


@pytest.mark.parametrize("space", SMALL_SPACES, ids=space_id)
@settings(max_examples=25)
@given(data=st.data())
def test_module_names_are_structural(space, data) -> None:
    """The same op on the same edge has the same state-dict names (and shapes) in every arch."""
    a = data.draw(architectures(space))
    # b: a with a few edges changed, so most edges are shared
    b = a
    for _ in range(data.draw(st.integers(1, 3))):
        cell_name = data.draw(st.sampled_from([n for n, _ in a.cells_by_name()]))
        cell = [list(node) for node in getattr(b, cell_name)]
        k = data.draw(st.integers(0, len(cell) - 1))
        j = data.draw(st.integers(0, len(cell[k]) - 1))
        cell[k][j] = (data.draw(st.sampled_from(space.ops)), cell[k][j][1])
        b = b.replace(**{cell_name: cell})
    b = b.replace(channels=a.channels, cells=a.cells)
    with torch.device("meta"):
        net_a, net_b = space.build(a), space.build(b)
    if a.space == "darts":  # the reduction cells sit in `reductions`, the normal ones in `stages`
        prefixes = {"normal": "stages.", "reduce": "reductions."}
    else:
        prefixes = {"normal": "stages."}
    live_a, live_b = _live(a), _live(b)
    for cell_name, edge, op in live_a:
        names_a = {
            k: v for k, v in edge_names(net_a, edge).items() if k.startswith(prefixes[cell_name])
        }
        names_b = {
            k: v for k, v in edge_names(net_b, edge).items() if k.startswith(prefixes[cell_name])
        }
        if (cell_name, edge, op) in live_b:
            assert names_a == names_b, (cell_name, edge, op)
        if op in ("none", "skip_connect", "avg_pool_3x3", "max_pool_3x3") and not (
            op == "skip_connect" and cell_name == "reduce" and int(edge.split("_")[1]) < 2
        ):
            assert names_a == {}
        else:
            assert names_a  # ops with weights have state under their edge name
    # every edge module of the network belongs to a live edge of the architecture
    built = {k.split(".edges.")[1].split(".")[0] for k in net_a.state_dict() if ".edges." in k}
    assert built <= {edge for _, edge, _ in live_a}
    # weights move between the two by name: every shared key has the same shape
    state_a, state_b = net_a.state_dict(), net_b.state_dict()
    for key in state_a.keys() & state_b.keys():
        if ".edges." not in key:
            assert state_a[key].shape == state_b[key].shape, key


def test_weights_transfer_by_name() -> None:
    space = NB201Space(channels=4, cells=1)
    a = space.from_nb201_string(
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"
    )
    b = space.from_nb201_string(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"
    )
    net_a, net_b = space.build(a), space.build(b)
    state_a = net_a.state_dict()
    shared = {
        k: v
        for k, v in state_a.items()
        if k in net_b.state_dict() and v.shape == net_b.state_dict()[k].shape
    }
    result = net_b.load_state_dict(shared, strict=False)
    assert not result.unexpected_keys
    # only the changed edge 2<-0 (a 1x1 conv in a, a 3x3 conv in b) differs
    assert {k.split(".edges.")[1].split(".")[0] for k in result.missing_keys} == {"2_0"}
    assert torch.equal(
        net_b.stages[1][0].edges["3_2"].conv.weight, net_a.stages[1][0].edges["3_2"].conv.weight
    )
