import numpy as np
import pytest

from optuna_nas import NB201Space
from optuna_nas.objectives import count_params
from optuna_nas.tnd import TradeOff, trade_off_ladder


def test_the_reward_trades_accuracy_against_cost_around_the_target():
    setting = TradeOff("p", {"params": 1000}, above=-1.0, below=0.0)
    assert setting.reward(0.9, {"params": 500}) == pytest.approx(0.9)  # under target: accuracy
    assert setting.reward(0.9, {"params": 2000}) == pytest.approx(0.45)  # 2x over: halved
    seeking = TradeOff("p", {"params": 1000}, above=-0.5, below=0.5)
    assert seeking.reward(0.9, {"params": 250}) == pytest.approx(0.45)  # 4x under: halved too
    two = TradeOff("pf", {"params": 1000, "flops": 10}, above=-1.0)
    assert two.reward(0.8, {"params": 2000, "flops": 20}) == pytest.approx(0.2)
    assert TradeOff("acc").reward(0.8, {}) == 0.8
    assert TradeOff("p", {"params": 10}).to_dict() == {
        "name": "p", "targets": {"params": 10}, "above": -0.5, "below": 0.0}  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"targets": {"size": 1.0}}, "unknown objective 'size'"),
        ({"targets": {"error": 0.1}}, "needs a trained network"),
        ({"targets": {"params": 0}}, "positive number"),
        ({"targets": {"params": 10}, "above": float("nan")}, "finite"),
    ],
)
def test_bad_settings_name_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TradeOff("bad", **kwargs)


def test_the_ladder_spans_the_space_with_increasing_targets():
    space = NB201Space(channels=4, cells=1)
    ladder = trade_off_ladder(space, "params", 4, input_shape=(3, 16, 16))
    targets = [t.targets["params"] for t in ladder]
    assert targets == sorted(targets) and len(set(t.name for t in ladder)) == 4
    ratios = np.array(targets[1:]) / np.array(targets[:-1])
    assert np.allclose(ratios, ratios[0])  # log-spaced
    heaviest = space.from_nb201_string("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+"
                                       "|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")  # fmt: skip
    assert targets[-1] == count_params(heaviest, (3, 16, 16))
    assert all(t.below == 0.5 and t.above == -0.5 for t in ladder)
