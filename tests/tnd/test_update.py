"""The shared pool: one set of scored samples per update serves every trade-off setting."""

import numpy as np
import pytest
import torch

from optuna_nas import NB201Space, TrainConfig
from optuna_nas.objectives import count_params
from optuna_nas.tnd import (
    ArchitectureDistribution,
    Reinforce,
    SupernetTrainer,
    build_supernet,
    supernet_accuracy,
    trade_off_ladder,
)
from optuna_nas.tnd._update import PoolUpdate, pool_owners, pool_weights

SPACE = NB201Space(channels=4, cells=1)


def test_the_settings_take_turns_drawing_the_pool():
    assert pool_owners(["a", "b", "c"], 4, 0) == ["a", "b", "c", "a"]
    assert pool_owners(["a", "b", "c"], 4, 1) == ["b", "c", "a", "b"]


def test_balance_heuristic_weights_give_every_setting_an_unbiased_estimate():
    # Three "settings" over four outcomes; the pool of 4 holds 2, 1 and 1 of their draws.
    p = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.2, 0.6], [0.0, 0.5, 0.5, 0.0]])
    owners = np.array([0, 0, 1, 2])
    counts = np.bincount(owners, minlength=3).astype(float)
    f = np.array([1.0, 2.0, 3.0, 5.0])
    rng = np.random.default_rng(0)
    pools = 20_000
    draws = np.stack([rng.choice(4, size=pools, p=p[k]) for k in owners], axis=1)
    estimates = np.zeros(3)
    for outcomes in draws:
        w = pool_weights(p[:, outcomes], counts)
        assert (w <= len(owners) / counts[:, None] + 1e-12).all()  # bounded by n / n_s
        estimates += (w * f[outcomes]).mean(axis=1)
    assert estimates / pools == pytest.approx(p @ f, rel=0.02)
    # A setting that cannot draw an outcome gives it weight 0.
    assert pool_weights(p[:, [0, 3]], counts)[2].tolist() == [0.0, 0.0]


def test_one_pool_updates_every_setting_with_one_score_per_sample(tiny_data):
    torch.manual_seed(0)
    supernet = build_supernet(SPACE, 3, 10)
    trainer = SupernetTrainer(supernet, tiny_data, TrainConfig(epochs=1, batch_size=64), 10)
    rng = np.random.default_rng(0)
    for _ in range(4):
        supernet.select(SPACE.sample(rng))
        trainer.step()
    shape = tiny_data.input_shape
    settings = {t.name: t for t in trade_off_ladder(SPACE, "params", 3, input_shape=shape)}
    dists = {name: ArchitectureDistribution(SPACE) for name in settings}
    baselines = dict.fromkeys(settings)
    pool = PoolUpdate(SPACE, ["error", "params"], settings, Reinforce(), 2,
                      lambda a: {"params": float(count_params(a, shape))},
                      np.random.default_rng(0))  # fmt: skip
    assert pool.n == 3  # at least one sample per setting
    batch = trainer.validation_batch(64, np.random.default_rng(1))
    trials, stats = pool(supernet, batch, dists, baselines, stage=0)
    assert [t.user_attrs["tnd:setting"] for t in trials] == list(settings)
    for t in trials:
        arch = SPACE.from_params(t.params)
        accuracy = supernet_accuracy(supernet.select(arch), *batch)
        assert t.values == [pytest.approx(1 - accuracy), count_params(arch, shape)]
        setting = settings[t.user_attrs["tnd:setting"]]
        assert t.user_attrs["tnd:reward"] == pytest.approx(
            setting.reward(accuracy, {"params": t.values[1]})
        )
    for name, dist in dists.items():  # every setting learnt from the pool, not only its draw
        assert baselines[name] is not None and set(stats[name]) >= {"reward", "pool_ess"}
        assert any(np.abs(logits).max() > 0 for logits in dist.logits.values())
    trials, _ = pool(supernet, batch, dists, baselines, stage=0)
    assert [t.user_attrs["tnd:setting"] for t in trials] == list(settings)  # turns go on
