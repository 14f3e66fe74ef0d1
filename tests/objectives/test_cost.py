"""Cheap objectives: parameter and FLOP counts against hand counts and full builds; thop; latency."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from optuna_nas import Architecture, DartsSpace, NB201Space
from optuna_nas.objectives import (
    LatencyMeasurement,
    count_flops,
    count_network,
    count_params,
    measure_latency,
    thop_macs,
)
from tests.strategies import SMALL_SPACES, architectures, space_id


# ---------------------------------------------------------------------- hand counts
# FLOPs as torch.utils.flop_counter counts them: 2 per multiply-add of convs and
# matmuls, nothing for BN, pooling, ReLU, additions and the global mean.
def conv(c_in: int, c_out: int, k: int, h_out: int, w_out: int, groups: int = 1) -> int:
    return 2 * c_in * c_out * k * k * h_out * w_out // groups


def linear(n_in: int, n_out: int) -> int:
    return 2 * n_in * n_out


def conv_params(c_in: int, c_out: int, k: int, groups: int = 1) -> int:
    return c_in * c_out * k * k // groups


def bn_params(c: int) -> int:
    return 2 * c


def down(size: int) -> int:
    """Output size of a stride-2 conv (k=3, p=1 or k=1, p=0) and of ceil-mode pooling."""
    return (size + 1) // 2


NONE_CELL = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
CONV1X1_ON_3_0 = "|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|"


def nb201_hand_count(c: int, n: int, shape: tuple[int, int, int], conv1x1_on_3_0: bool):
    """(params, flops) of the NB201 network with an empty cell, or one 1x1 conv 0 -> 3."""
    c_in, h, w = shape
    widths = [c, 2 * c, 4 * c]
    sizes = [(h, w), (down(h), down(w)), (down(down(h)), down(down(w)))]
    # stem: conv 3x3 + BN
    flops = conv(c_in, c, 3, h, w)
    params = conv_params(c_in, c, 3) + bn_params(c)
    # two residual reductions: ReLU-conv3x3(stride 2)-BN, ReLU-conv3x3-BN, avgpool + conv1x1
    for s in (1, 2):
        cin, cout = widths[s - 1], widths[s]
        ho, wo = sizes[s]
        flops += (
            conv(cin, cout, 3, ho, wo) + conv(cout, cout, 3, ho, wo) + conv(cin, cout, 1, ho, wo)
        )
        params += conv_params(cin, cout, 3) + bn_params(cout)
        params += conv_params(cout, cout, 3) + bn_params(cout)
        params += conv_params(cin, cout, 1)
    # the cells: n per stage, each with one ReLU-conv1x1-BN
    if conv1x1_on_3_0:
        for width, (hs, ws) in zip(widths, sizes, strict=True):
            flops += n * conv(width, width, 1, hs, ws)
            params += n * (conv_params(width, width, 1) + bn_params(width))
    # head: BN, ReLU, global mean, linear
    flops += linear(4 * c, 10)
    params += bn_params(4 * c) + 4 * c * 10 + 10
    return params, flops


@pytest.mark.parametrize(
    ("c", "n", "shape"),
    [(16, 5, (3, 32, 32)), (8, 2, (1, 28, 28)), (4, 1, (3, 9, 9)), (6, 3, (2, 8, 8))],
)
@pytest.mark.parametrize("with_conv", [False, True])
def test_nb201_counts_equal_hand_counts(c, n, shape, with_conv) -> None:
    space = NB201Space(channels=c, cells=n)
    arch = space.from_nb201_string(CONV1X1_ON_3_0 if with_conv else NONE_CELL)
    params, flops = nb201_hand_count(c, n, shape, with_conv)
    assert count_params(arch, shape) == params
    assert count_flops(arch, shape) == flops
    assert count_network(arch, shape) == (params, flops)


def test_nb201_hand_counts_written_out() -> None:
    """The default NB201 network (C=16, N=5) on 3x32x32, without any helper."""
    space = NB201Space()
    empty = space.from_nb201_string(NONE_CELL)
    stem = 2 * 3 * 16 * 9 * 32 * 32
    red1 = 2 * 16 * 32 * 9 * 16 * 16 + 2 * 32 * 32 * 9 * 16 * 16 + 2 * 16 * 32 * 1 * 16 * 16
    red2 = 2 * 32 * 64 * 9 * 8 * 8 + 2 * 64 * 64 * 9 * 8 * 8 + 2 * 32 * 64 * 1 * 8 * 8
    head = 2 * 64 * 10
    assert count_flops(empty) == stem + red1 + red2 + head == 15_566_080
    cells = 5 * (2 * 16 * 16 * 32 * 32 + 2 * 32 * 32 * 16 * 16 + 2 * 64 * 64 * 8 * 8)
    assert count_flops(space.from_nb201_string(CONV1X1_ON_3_0)) == 15_566_080 + cells
    stem_p = 3 * 16 * 9 + 2 * 16
    red1_p = 16 * 32 * 9 + 2 * 32 + 32 * 32 * 9 + 2 * 32 + 16 * 32
    red2_p = 32 * 64 * 9 + 2 * 64 + 64 * 64 * 9 + 2 * 64 + 32 * 64
    head_p = 2 * 64 + 64 * 10 + 10
    # NAS-Bench-201's model_size of the empty cell is 0.073306 M parameters
    assert count_params(empty) == stem_p + red1_p + red2_p + head_p == 73_306


def sep_conv(c: int, k: int, h_out: int, w_out: int) -> tuple[int, int]:
    """(params, flops) of DARTS SepConv(c, c, k, stride): two dw-pw-BN blocks."""
    flops = 2 * (conv(c, c, k, h_out, w_out, groups=c) + conv(c, c, 1, h_out, w_out))
    params = 2 * (conv_params(c, c, k, groups=c) + conv_params(c, c, 1) + bn_params(c))
    return params, flops


def relu_conv_bn_1x1(c_in: int, c_out: int, h: int, w: int) -> tuple[int, int]:
    return conv_params(c_in, c_out, 1) + bn_params(c_out), conv(c_in, c_out, 1, h, w)


def factorized_reduce(c_in: int, c_out: int, h_out: int, w_out: int) -> tuple[int, int]:
    half = c_out // 2
    params = conv_params(c_in, half, 1) + conv_params(c_in, c_out - half, 1) + bn_params(c_out)
    flops = conv(c_in, half, 1, h_out, w_out) + conv(c_in, c_out - half, 1, h_out, w_out)
    return params, flops


def add(*costs: tuple[int, int]) -> tuple[int, int]:
    return sum(p for p, _ in costs), sum(f for _, f in costs)


def test_darts_counts_equal_hand_counts() -> None:
    """DARTS, one node per cell, C=4, one normal cell per stage, 3x32x32.

    normal: node 2 = sep_conv_3x3(s0') + skip(s1'); reduce: node 2 = skip(s0') +
    avg_pool(s1'), both stride 2 (skip becomes a FactorizedReduce). The layers:
    stem (12 ch), normal@4, reduce@8, normal@8, reduce@16, normal@16.
    """
    arch = Architecture(
        "darts",
        normal=((("sep_conv_3x3", 0), ("skip_connect", 1)),),
        reduce=((("skip_connect", 0), ("avg_pool_3x3", 1)),),
        channels=4,
        cells=1,
    )
    stem = (conv_params(3, 12, 3) + bn_params(12), conv(3, 12, 3, 32, 32))
    # normal cell, C=4, inputs: stem (12 ch, 32x32) twice
    normal0 = add(
        relu_conv_bn_1x1(12, 4, 32, 32), relu_conv_bn_1x1(12, 4, 32, 32), sep_conv(4, 3, 32, 32)
    )
    # reduction cell, C=8, inputs: stem (12, 32x32), normal0 (4, 32x32); out 8 ch at 16x16
    reduce1 = add(
        relu_conv_bn_1x1(12, 8, 32, 32),
        relu_conv_bn_1x1(4, 8, 32, 32),
        factorized_reduce(8, 8, 16, 16),
    )
    # normal cell, C=8, inputs: normal0 (4, 32x32) -> FactorizedReduce, reduce1 (8, 16x16)
    normal1 = add(
        factorized_reduce(4, 8, 16, 16), relu_conv_bn_1x1(8, 8, 16, 16), sep_conv(8, 3, 16, 16)
    )
    # reduction cell, C=16, inputs: reduce1 (8, 16x16), normal1 (8, 16x16); out 16 ch at 8x8
    reduce2 = add(
        relu_conv_bn_1x1(8, 16, 16, 16),
        relu_conv_bn_1x1(8, 16, 16, 16),
        factorized_reduce(16, 16, 8, 8),
    )
    # normal cell, C=16, inputs: normal1 (8, 16x16) -> FactorizedReduce, reduce2 (16, 8x8)
    normal2 = add(
        factorized_reduce(8, 16, 8, 8), relu_conv_bn_1x1(16, 16, 8, 8), sep_conv(16, 3, 8, 8)
    )
    head = (16 * 10 + 10, linear(16, 10))
    params, flops = add(stem, normal0, reduce1, normal1, reduce2, normal2, head)
    assert count_params(arch) == params
    assert count_flops(arch) == flops
    assert count_network(arch) == (params, flops)
    assert flops == 1_872_192  # a regression anchor for the sum above
    model = DartsSpace(channels=4, cells=1, nodes=1).build(arch)
    assert sum(p.numel() for p in model.parameters()) == params


# ---------------------------------------------------------------------- cached vs full build
@pytest.mark.parametrize("space", SMALL_SPACES, ids=space_id)
@settings(max_examples=15)
@given(data=st.data())
def test_cached_counts_equal_the_full_network(space, data) -> None:
    arch = data.draw(architectures(space))
    shape = data.draw(st.sampled_from([(3, 32, 32), (1, 28, 28), (3, 9, 9)]))
    classes = data.draw(st.sampled_from([10, 3]))
    params, flops = count_network(arch, shape, classes)
    assert count_params(arch, shape, classes) == params
    assert count_flops(arch, shape, classes) == flops
    assert flops > 0 and params > 0


def test_counts_of_a_real_cpu_build() -> None:
    for space in SMALL_SPACES:
        arch = space.sample(7)
        model = space.build(arch, 1, 4)
        assert count_params(arch, (1, 28, 28), 4) == sum(
            p.numel() for p in model.parameters() if p.requires_grad
        )


def test_counts_accept_list_shapes_and_are_monotone_in_size() -> None:
    arch = NB201Space(channels=4, cells=1).sample(3)
    assert count_flops(arch, [3, 32, 32]) == count_flops(arch, (3, 32, 32))  # type: ignore[arg-type]
    assert count_flops(arch, (3, 16, 16)) < count_flops(arch, (3, 32, 32))
    assert count_params(arch, (3, 16, 16)) == count_params(arch, (3, 32, 32))
    wider = arch.replace(channels=8)
    assert count_params(wider) > count_params(arch)
    assert count_flops(wider) > count_flops(arch)


# ---------------------------------------------------------------------- thop
def _has_thop_state(model: nn.Module) -> bool:
    names = [name for name, _ in model.named_buffers()]
    return any(n.endswith(("total_ops", "total_params")) for n in names) or any(
        m._forward_hooks for m in model.modules()
    )


@pytest.mark.parametrize("space", SMALL_SPACES[::2], ids=space_id)
def test_thop_macs_counts_on_a_throwaway_network(space) -> None:
    arch = space.sample(11)
    before = space.build(arch)
    global_hooks = dict(nn.modules.module._global_forward_hooks)
    macs = thop_macs(arch)
    assert isinstance(macs, int) and macs > 0
    # thop sees the plain convs and linears, so it counts at least their multiply-adds
    assert macs >= count_flops(arch) // 2
    assert thop_macs(arch) == macs
    assert thop_macs(arch, (1, 28, 28)) != macs
    assert not _has_thop_state(before)
    after = space.build(arch)
    assert not _has_thop_state(after)
    assert dict(nn.modules.module._global_forward_hooks) == global_hooks
    # a strict load between independently built networks still works
    after.load_state_dict(before.state_dict(), strict=True)


# ---------------------------------------------------------------------- latency
def test_measure_latency_records_its_setup_and_restores_threads() -> None:
    arch = NB201Space(channels=4, cells=1).sample(2)
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        result = measure_latency(arch, (3, 16, 16), batch_size=3, warmup=1, repeats=5, threads=1)
        assert torch.get_num_threads() == 2
        assert isinstance(result, LatencyMeasurement)
        assert result.milliseconds > 0
        assert (result.batch_size, result.threads, result.device) == (3, 1, "cpu")
        assert (result.repeats, result.warmup) == (5, 1)
        kept = measure_latency(arch, (1, 8, 8), warmup=0, repeats=3, threads=None)
        assert kept.threads == 2 and torch.get_num_threads() == 2
        assert kept.batch_size == 1 and kept.milliseconds > 0
    finally:
        torch.set_num_threads(old)
