import numpy as np
import pytest
import torch
import torch.nn.functional as F

from optuna_nas import DartsSpace, NB201Space
from optuna_nas.data import load_data
from optuna_nas.tnd import (
    ArchitectureDistribution,
    MixedEdge,
    architecture_selection,
    build_supernet,
)

SPACES = [NB201Space(channels=4, cells=1), DartsSpace(channels=4, cells=1, nodes=3)]


@pytest.fixture(params=SPACES, ids=lambda s: s.kind)
def space(request):
    return request.param


def _ops_run(supernet, x):
    """The (module name of the edge, op) pairs a forward pass computes."""
    ran = set()
    handles = [
        module.register_forward_hook(lambda m, i, o, key=(name, op): ran.add(key))
        for name, edge in supernet.named_modules()
        if isinstance(edge, MixedEdge)
        for op, module in edge.ops.items()
    ]
    supernet(x)
    for handle in handles:
        handle.remove()
    return ran


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_a_selected_architecture_computes_exactly_its_built_network(space, mode):
    torch.manual_seed(0)
    supernet = build_supernet(space, 3, 10)
    dist = ArchitectureDistribution(space)
    rng = np.random.default_rng(0)
    x = torch.randn(6, 3, 12, 12)
    for _ in range(4):
        arch, _ = dist.sample(rng)
        built = space.build(arch, 3, 10)
        # The shared weights carry the names of `space.build(arch)`: a strict load works.
        built.load_state_dict(supernet.subnet_state_dict(arch), strict=True)
        getattr(supernet, mode)()
        getattr(built, mode)()
        with torch.no_grad():
            torch.testing.assert_close(supernet.select(arch)(x), built(x), rtol=0, atol=0)


def test_only_the_chosen_ops_run(space):
    supernet = build_supernet(space, 3, 10).eval()
    arch, _ = ArchitectureDistribution(space).sample(np.random.default_rng(1))
    chosen = architecture_selection(arch)  # dead NB201 ops and `none` have nothing to run
    expected = {
        (f"{name}.edges.{edge}", op)
        for name, cell in supernet.named_modules()
        if hasattr(cell, "kind")
        for edge, ops in chosen[cell.kind].items()
        for op in ops
        if op != "none"
    }
    with torch.no_grad():
        assert _ops_run(supernet.select(arch), torch.randn(2, 3, 12, 12)) == expected


def test_the_mixture_runs_every_active_op_and_weights_them(space):
    supernet = build_supernet(space, 3, 10).eval()
    dist = ArchitectureDistribution(space)
    x = torch.randn(2, 3, 12, 12)
    with torch.no_grad():
        ran = _ops_run(supernet.mix(dist.mixture()), x)
    n_edges = sum(isinstance(m, MixedEdge) for m in supernet.modules())
    assert len(ran) == n_edges * (len(space.ops) - 1)  # every op but `none`, on every edge
    # A mixture that puts weight 1 on one op per edge is that architecture.
    arch, _ = dist.sample(np.random.default_rng(2))
    with torch.no_grad():
        torch.testing.assert_close(
            supernet.mix(architecture_selection(arch))(x), supernet.select(arch)(x)
        )
    # After shrinking, removed ops are neither weighted nor computed.
    dist.shrink(2)
    with torch.no_grad():
        ran = _ops_run(supernet.mix(dist.mixture()), x)
    assert len(ran) <= n_edges * 2


def test_gradients_reach_every_active_op_of_the_mixture(space):
    supernet = build_supernet(space, 3, 10).train()
    supernet.mix(ArchitectureDistribution(space).mixture())
    supernet(torch.randn(4, 3, 12, 12)).sum().backward()
    for name, p in supernet.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("weight_training", ["mixture", "sampled"])
def test_the_supernet_trains(weight_training):
    data = load_data("synthetic", train_size=512, val_size=100, test_size=100)
    space = NB201Space(channels=4, cells=1)
    torch.manual_seed(0)
    supernet = build_supernet(space, 3, 10).train()
    dist = ArchitectureDistribution(space)
    rng = np.random.default_rng(0)
    optimizer = torch.optim.SGD(supernet.parameters(), lr=0.05, momentum=0.9)
    x, y = data.normalize(data.train_x), data.train_y

    probes = [dist.sample(np.random.default_rng(seed))[0] for seed in range(8)]

    def held_out_loss():  # the way it was trained: the mixture, or the mean of fixed samples
        with torch.no_grad():
            if weight_training == "mixture":
                return F.cross_entropy(supernet.mix(dist.mixture())(x[-128:]), y[-128:]).item()
            return np.mean([F.cross_entropy(supernet.select(a)(x[-128:]), y[-128:]).item()
                            for a in probes])  # fmt: skip

    before = held_out_loss()
    for step in range(40 if weight_training == "mixture" else 120):
        idx = slice(64 * (step % 6), 64 * (step % 6 + 1))
        if weight_training == "mixture":
            supernet.mix(dist.mixture())
        else:
            supernet.select(dist.sample(rng)[0])
        loss = F.cross_entropy(supernet(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert held_out_loss() < 0.75 * before


def test_forward_without_a_choice_says_what_to_do():
    supernet = build_supernet(NB201Space(channels=4, cells=1), 3, 10)
    with pytest.raises(RuntimeError, match=r"call select\(arch\) or mix"):
        supernet(torch.randn(1, 3, 8, 8))


@pytest.mark.parametrize(
    ("space", "message"),
    [
        (NB201Space(channels=[4, 8], cells=1), r"channels=\[4, 8\]"),
        (DartsSpace(channels=4, cells=[1, 2]), r"cells=\[1, 2\]"),
    ],
)
def test_spaces_with_several_macro_values_are_refused_with_the_fix(space, message):
    with pytest.raises(ValueError, match=message) as info:
        build_supernet(space)
    assert "single" in str(info.value)
