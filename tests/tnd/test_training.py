"""The supernet's trainer keeps the splits apart: rewards only ever see validation images."""

import copy
from dataclasses import replace

import numpy as np
import torch

from optuna_nas import NB201Space, TrainConfig
from optuna_nas.tnd import SupernetTrainer, build_supernet, supernet_accuracy


def test_reward_batches_come_from_the_validation_split_only(tiny_data):
    # Train images all black, validation images all white: a batch shows where it came from.
    data = replace(tiny_data, train_x=torch.zeros_like(tiny_data.train_x),
                   val_x=torch.full_like(tiny_data.val_x, 255))  # fmt: skip
    supernet = build_supernet(NB201Space(channels=4, cells=1), 3, 10)
    trainer = SupernetTrainer(supernet, data, TrainConfig(epochs=1, batch_size=64), 10)
    rng = np.random.default_rng(0)
    white, black = data.normalize(data.val_x[:1]), data.normalize(data.train_x[:1])
    for _ in range(3):
        x, y = trainer.validation_batch(48, rng)
        assert len(x) == 48 and torch.allclose(x, white.expand_as(x))
        assert set(y.tolist()) <= set(data.val_y.tolist())
        x, _ = trainer.train_batch(48, rng)
        assert torch.allclose(x, black.expand_as(x))
    x, _ = trainer.validation_batch(10_000, rng)
    assert len(x) == len(data.val_y)  # never more than the split holds


def test_scoring_uses_batch_statistics_and_leaves_the_running_ones_alone(tiny_data):
    space = NB201Space(channels=4, cells=1)
    supernet = build_supernet(space, 3, 10)
    supernet.select(space.sample(np.random.default_rng(0)))
    x, y = tiny_data.normalize(tiny_data.val_x[:64]), tiny_data.val_y[:64]
    with torch.no_grad():  # BN's running statistics move away from their initial values
        supernet.train()(tiny_data.normalize(tiny_data.train_x[:64]))
    running = {k: v.clone() for k, v in supernet.state_dict().items() if "running" in k}
    reference = copy.deepcopy(supernet).train()  # batch statistics, by hand
    with torch.no_grad():
        expected = (reference(x).argmax(1) == y).float().mean().item()
    for mode in ("eval", "train"):
        getattr(supernet, mode)()
        assert supernet_accuracy(supernet, x, y) == expected
        assert all(m.training == (mode == "train") for m in supernet.modules())  # mode restored
        state = supernet.state_dict()
        assert all(torch.equal(state[k], v) for k, v in running.items())
    # The eval-mode running statistics would score differently: the batch's are used.
    with torch.no_grad():
        assert not torch.equal(supernet.eval()(x), reference(x))
