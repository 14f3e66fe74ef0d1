import numpy as np
import pytest

from optuna_nas import DartsSpace, NB201Space
from optuna_nas.tnd import ArchitectureDistribution

SPACES = [NB201Space(channels=4, cells=1), DartsSpace(channels=4, cells=1, nodes=3)]


@pytest.fixture(params=SPACES, ids=lambda s: s.kind)
def space(request):
    return request.param


def _random_logits(space, seed):
    rng = np.random.default_rng(seed)
    dist = ArchitectureDistribution(space)
    return {name: {c: float(rng.normal()) for c in d.choices} for name, d in dist.decisions.items()}


def test_samples_are_valid_architectures_that_match_their_choices(space):
    dist = ArchitectureDistribution(space, logits=_random_logits(space, 0))
    rng = np.random.default_rng(0)
    for _ in range(50):
        arch, choices = dist.sample(rng)
        assert arch in space
        params = space.to_params(arch)
        for kind, cell in arch.cells_by_name():
            for k, node in enumerate(cell):
                target = space.rule.n_inputs + k
                for op, source in node:
                    assert choices[f"{kind}/op_{target}<-{source}"] == op
                if space.kind == "darts":  # the two-inputs rule, as the space encodes it
                    assert (
                        choices[f"{kind}/node{target}/inputs"]
                        == params[f"{kind}/node{target}/inputs"]
                    )
        # NB201 uses every op decision; DARTS only those of the two chosen edges per node.
        expected = len(dist.decisions) if space.kind == "nb201" else 2 * 3 * 3
        assert len(choices) == expected


def test_sampling_frequencies_follow_softmax_alpha():
    space = NB201Space(channels=4, cells=1)
    dist = ArchitectureDistribution(space, logits={"normal/op_1<-0": {"nor_conv_3x3": 2.0}})
    rng = np.random.default_rng(0)
    ops = [dist.sample(rng)[1]["normal/op_1<-0"] for _ in range(4000)]
    expected = np.exp(2.0) / (np.exp(2.0) + 4)
    assert np.mean([op == "nor_conv_3x3" for op in ops]) == pytest.approx(expected, abs=0.03)


def test_log_prob_and_entropy_gradients_match_finite_differences(space):
    dist = ArchitectureDistribution(space, logits=_random_logits(space, 1))
    _, choices = dist.sample(np.random.default_rng(1))
    grads = {"log_prob": dist.log_prob_grad(choices), "entropy": dist.entropy_grad()}
    values = {"log_prob": lambda: dist.log_prob(choices), "entropy": dist.entropy}
    eps = 1e-6
    for what, grad in grads.items():
        for name in list(dist.decisions)[:6]:
            for i in range(len(dist.logits[name])):
                dist.logits[name][i] += eps
                up = values[what]()
                dist.logits[name][i] -= 2 * eps
                down = values[what]()
                dist.logits[name][i] += eps
                numeric = (up - down) / (2 * eps)
                assert grad.get(name, np.zeros(len(dist.logits[name])))[i] == pytest.approx(
                    numeric, abs=1e-6
                ), (what, name, i)


def test_shrinking_keeps_the_most_likely_ops_and_removed_ops_never_return(space):
    dist = ArchitectureDistribution(space, logits=_random_logits(space, 2))
    before = {name: dist.logits[name].copy() for name in dist.decisions}
    dist.shrink(3)
    for name, d in dist.decisions.items():
        if d.source is None:  # input pairs are not shrunk
            assert dist.active[name].all()
            continue
        kept = set(dist.active_choices(name))
        top = {d.choices[i] for i in np.argsort(-before[name])[:3]}
        assert kept == top
        assert np.count_nonzero(dist.probabilities(name)) == 3
    removed = {name: set(d.choices) - set(dist.active_choices(name))
               for name, d in dist.decisions.items()}  # fmt: skip
    rng = np.random.default_rng(3)
    for _ in range(200):
        _, choices = dist.sample(rng)
        assert all(choice not in removed[name] for name, choice in choices.items())
    # Gradient steps never revive a removed op.
    dist.ascend({name: np.ones(len(d.choices)) for name, d in dist.decisions.items()}, 10.0)
    assert all(set(dist.active_choices(n)).isdisjoint(removed[n]) for n in dist.decisions)
    # Shrinking further keeps a subset; the JSON form keeps the shrunk space.
    dist.shrink(1)
    again = ArchitectureDistribution.from_dict(space, dist.to_dict())
    assert again.to_dict() == dist.to_dict()
    assert again.most_likely()[0] == dist.most_likely()[0]
    assert all(
        len(again.active_choices(n)) == 1
        for n, d in again.decisions.items()
        if d.source is not None
    )


def test_the_mixture_weights_are_probabilities_of_use(space):
    dist = ArchitectureDistribution(space, logits=_random_logits(space, 4))
    mixture = dist.mixture()
    for edges in mixture.values():
        by_target = {}
        for edge, ops in edges.items():
            target = int(edge.split("_")[0])
            by_target[target] = by_target.get(target, 0.0) + sum(ops.values())
        # Each NB201 edge is used once; each DARTS node uses two of its incoming edges.
        uses = 1 if space.kind == "nb201" else 2
        for target, total in by_target.items():
            assert total == pytest.approx(uses * (target if space.kind == "nb201" else 1))


def test_most_likely_takes_the_argmax_of_every_decision(space):
    logits = _random_logits(space, 5)
    arch, choices = ArchitectureDistribution(space, logits=logits).most_likely()
    for name, choice in choices.items():
        assert choice == max(logits[name], key=logits[name].get)
    assert arch in space


def test_bad_published_alpha_names_the_decision_or_choice():
    space = NB201Space(channels=4, cells=1)
    with pytest.raises(ValueError, match=r"'normal/op_9<-0' is not a decision"):
        ArchitectureDistribution.from_dict(space, {"normal/op_9<-0": {"none": 0.0}})
    with pytest.raises(ValueError, match=r"unknown choices \['sep_conv_3x3'\]"):
        ArchitectureDistribution.from_dict(space, {"normal/op_1<-0": {"sep_conv_3x3": 0.0}})
    with pytest.raises(ValueError, match="at least one choice"):
        ArchitectureDistribution.from_dict(space, {"normal/op_1<-0": {}})


def test_the_probability_of_choices_is_their_product_and_zero_once_shrunk_away(space):
    dist = ArchitectureDistribution(space, logits=_random_logits(space, 6))
    _, choices = dist.sample(np.random.default_rng(6))
    assert dist.probability(choices) == pytest.approx(np.exp(dist.log_prob(choices)))
    dist.shrink(1)
    arch, kept = dist.most_likely()
    pairs = [dist.probabilities(n).max() for n, d in dist.decisions.items() if d.source is None
             and n in kept]  # fmt: skip
    assert dist.probability(kept) == pytest.approx(np.prod(pairs))  # DARTS: input pairs unshrunk
    other = {name: next(c for c in dist.decisions[name].choices if c not in dist.active_choices(name))
             if dist.decisions[name].source is not None else choice
             for name, choice in kept.items()}  # fmt: skip
    assert dist.probability(other) == 0.0


def test_the_cap_lowers_the_top_probability_and_keeps_the_order(space):
    dist = ArchitectureDistribution(space, logits=_random_logits(space, 7))
    for name in dist.decisions:
        dist.logits[name] *= 4  # many decisions now have an op far above 0.6
    before = {name: dist.probabilities(name) for name in dist.decisions}
    dist.cap(0.6)
    for name, p_before in before.items():
        p = dist.probabilities(name)
        if p_before.max() <= 0.6 or dist.active[name].sum() == 1:
            assert np.allclose(p, p_before)  # under the cap, or no choice left: left alone
        else:
            assert p.max() == pytest.approx(0.6, abs=1e-9)
        assert (np.argsort(-p, kind="stable") == np.argsort(-p_before, kind="stable")).all()
    assert sum(p.max() > 0.6 + 1e-9 and len(p) > 1 for p in before.values()) >= 3
    with pytest.raises(ValueError, match="max_probability"):
        dist.cap(0.0)
