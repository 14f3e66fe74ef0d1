import numpy as np
import pytest

from optuna_nas import NB201Space
from optuna_nas.tnd import ArchitectureDistribution, Reinforce, RewardBaseline

SPACE = NB201Space(channels=4, cells=1)
# A constructed reward with a known answer: each edge adds the value of its op.
OP_VALUE = {"none": 0.0, "skip_connect": 0.6, "nor_conv_1x1": 0.8, "nor_conv_3x3": 1.0,
            "avg_pool_3x3": 0.4}  # fmt: skip


RAW = {"normalize": False, "max_probability": 1.0}
"""The plain REINFORCE step: rewards as they are, no probability cap."""


def _reward(choices):
    return np.mean([OP_VALUE[op] for op in choices.values()])


def _search(reinforce, steps, seed=0, reward=_reward):
    dist = ArchitectureDistribution(SPACE)
    rng = np.random.default_rng(seed)
    baseline = None
    history = []
    for _ in range(steps):
        samples = [dist.sample(rng)[1] for _ in range(8)]
        baseline = reinforce.step(dist, samples, [reward(c) for c in samples], baseline)
        history.append({name: dist.probabilities(name) for name in dist.decisions})
    return dist, history


def _mean_probabilities(history, last):
    """Per-op probabilities averaged over edges and the last steps (the noise averages out)."""
    ops = ArchitectureDistribution(SPACE).decisions["normal/op_1<-0"].choices
    p = np.mean([np.mean(list(h.values()), axis=0) for h in history[-last:]], axis=0)
    return dict(zip(ops, p, strict=True))


@pytest.mark.parametrize("options", [RAW, {}], ids=["raw", "default"])
def test_alpha_moves_to_the_op_the_reward_favours(options):
    dist, history = _search(Reinforce(lr=1.0, entropy_weight=0.0, **options), 150)
    for name in dist.decisions:
        ops = dist.decisions[name].choices
        assert ops[int(np.argmax(dist.logits[name]))] == "nor_conv_3x3"
        assert dist.probabilities(name)[ops.index("nor_conv_3x3")] > 0.5  # from 0.2
    assert dist.most_likely()[0] == SPACE.from_nb201_string(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    )


def test_without_the_entropy_bonus_alpha_collapses_onto_one_op():
    dist, history = _search(Reinforce(lr=1.0, entropy_weight=0.0, **RAW), 600)
    assert _mean_probabilities(history, 50)["nor_conv_3x3"] > 0.95


def test_the_entropy_bonus_holds_alpha_at_softmax_of_reward_over_weight():
    # E[R] + w * H per edge is maximised by p = softmax(value / (6 * w)) (6 edges share R).
    weight = 1 / 12
    _, history = _search(Reinforce(lr=1.0, entropy_weight=weight, **RAW), 600)
    got = _mean_probabilities(history, 300)
    values = np.array(list(OP_VALUE.values())) / (6 * weight)
    expected = dict(zip(OP_VALUE, np.exp(values) / np.exp(values).sum(), strict=True))
    for op in OP_VALUE:
        assert got[op] == pytest.approx(expected[op], abs=0.04), op
    assert min(got.values()) > 0.04  # every op stays in play: no collapse


def _skip_share(choices):
    # The collapse the guard is for: the reward grows with every `skip_connect`.
    return np.mean([op == "skip_connect" for op in choices.values()])


def test_the_probability_cap_stops_the_collapse_onto_skip_connect():
    collapsed, _ = _search(Reinforce(lr=1.0, entropy_weight=0.0, max_probability=1.0), 300,
                           reward=_skip_share)  # fmt: skip
    capped, _ = _search(Reinforce(lr=1.0, entropy_weight=0.0, max_probability=0.8), 300,
                        reward=_skip_share)  # fmt: skip
    skip = SPACE.ops.index("skip_connect")
    for name in collapsed.decisions:
        assert collapsed.probabilities(name)[skip] > 0.99  # what the guard prevents
        p = capped.probabilities(name)
        assert 0.75 < p[skip] <= 0.8 + 1e-9  # pushed against the cap, never past it
        assert np.argmax(p) == skip and p.min() > 0.02  # the signal kept, every op still drawn


def test_normalised_rewards_give_every_reward_scale_the_same_step():
    rng = np.random.default_rng(0)
    samples = [ArchitectureDistribution(SPACE).sample(rng)[1] for _ in range(8)]
    rewards = np.array([_reward(c) for c in samples])
    logits = {}
    for scale, options in [(1.0, {}), (0.05, {}), (1.0, RAW), (0.05, RAW)]:
        dist = ArchitectureDistribution(SPACE)
        Reinforce(**options).step(dist, samples, 0.3 + scale * rewards)
        logits[scale, bool(options)] = np.concatenate(list(dist.logits.values()))
    # A setting whose rewards span 0.05x the range moves α as far (normalised) ...
    assert np.allclose(logits[1.0, False], logits[0.05, False])
    assert np.abs(logits[1.0, False]).max() > 0.1
    # ... where raw rewards would have it crawl.
    assert not np.allclose(logits[1.0, True], logits[0.05, True])


def test_the_baseline_and_variance_are_moving_averages_of_the_rewards():
    dist = ArchitectureDistribution(SPACE)
    rng = np.random.default_rng(0)
    reinforce = Reinforce(baseline_decay=0.8)
    samples = [dist.sample(rng)[1] for _ in range(4)]
    baseline = reinforce.step(dist, samples, [1.0, 2.0, 3.0, 4.0], None)
    assert baseline == pytest.approx((2.5, 1.25))  # the first batch starts both
    again = reinforce.step(dist, samples, [5.0] * 4, baseline)
    assert again == pytest.approx((0.8 * 2.5 + 0.2 * 5, 0.8 * 1.25 + 0.2 * 2.5**2))
    # Importance weights weight the averages: weight 0 leaves a sample out.
    weighted = reinforce.step(dist, samples, [1.0, 9.0, 3.0, 3.0], None, weights=[1, 0, 1, 1])
    assert weighted.mean == pytest.approx(7 / 3)


def test_equal_rewards_leave_alpha_alone_without_entropy_bonus():
    dist = ArchitectureDistribution(SPACE)
    samples = [dist.sample(np.random.default_rng(s))[1] for s in range(4)]
    Reinforce(entropy_weight=0.0).step(dist, samples, [0.7] * 4, RewardBaseline(0.7, 0.0))
    assert all((logits == 0).all() for logits in dist.logits.values())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": 0}, "lr"),
        ({"entropy_weight": -1}, "entropy_weight"),
        ({"baseline_decay": 1}, "baseline_decay"),
        ({"max_probability": 0}, "max_probability"),
        ({"max_probability": 1.5}, "max_probability"),
    ],
)
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Reinforce(**kwargs)
