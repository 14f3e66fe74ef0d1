import dataclasses

import pytest
import torch

from optuna_nas import NB201Space
from optuna_nas.data import load_data
from optuna_nas.networks import transfer_weights
from optuna_nas.training import (
    AUGMENT_MIN_EPOCHS,
    TrainConfig,
    TrainingDiverged,
    evaluate,
    load_weights,
    save_weights,
    train,
)

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


@pytest.fixture(scope="module")
def data():
    return load_data("synthetic")


def _model(space, seed=0):
    torch.manual_seed(seed)
    return space.build(space.from_nb201_string(ARCH), 3, 10)


def test_training_learns_and_is_deterministic(data):
    space = NB201Space(channels=4, cells=1)
    config = TrainConfig(epochs=3, batch_size=64, lr=0.05)
    first = train(_model(space), data, config)
    second = train(_model(space), data, config)
    assert first.curve == second.curve
    assert first.val_accuracy > 0.35  # chance is 0.10
    assert first.epochs == 3 and first.images_per_second > 0
    assert evaluate(_model(space), data) < first.val_accuracy


def test_divergence_raises_with_the_reason(data):
    with pytest.raises(TrainingDiverged, match="lower the learning rate"):
        train(_model(NB201Space(channels=4, cells=1)), data, TrainConfig(epochs=1, lr=1e20))


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=-1)


def test_on_epoch_sees_every_epoch(data):
    seen = []
    train(_model(NB201Space(channels=4, cells=1)), data, TrainConfig(epochs=2, batch_size=128),
          on_epoch=lambda e, acc: seen.append((e, acc)))  # fmt: skip
    assert [e for e, _ in seen] == [0, 1]


def test_distillation_moves_the_student_towards_the_teacher(data):
    space = NB201Space(channels=4, cells=1)
    teacher = _model(space)
    train(teacher, data, TrainConfig(epochs=3, batch_size=64, lr=0.05))
    student = _model(space, seed=1)
    result = train(student, data, TrainConfig(epochs=2, batch_size=64, lr=0.05), teacher=teacher)
    assert result.val_accuracy > 0.2


def test_weights_round_trip_and_transfer(tmp_path):
    space = NB201Space(channels=4, cells=1)
    model = _model(space)
    save_weights(model, tmp_path / "w.safetensors")
    state = load_weights(tmp_path / "w.safetensors")
    fresh = _model(space, seed=5)
    fresh.load_state_dict(state, strict=True)
    # A related architecture (edge 3<-1 now a 1x1 conv) inherits every other tensor by name.
    other = space.build(
        space.from_nb201_string(ARCH.replace("nor_conv_3x3~1|skip", "nor_conv_1x1~1|skip"))
    )
    report = transfer_weights(state, other)
    assert "stages.0.0.edges.3_1.conv.weight" in report.shape_mismatch
    assert "stages.0.0.edges.1_0.conv.weight" in report.copied
    assert torch.equal(other.state_dict()["stem.conv.weight"], state["stem.conv.weight"])


def test_a_pickle_is_refused_as_weights(tmp_path):
    path = tmp_path / "evil.safetensors"
    torch.save({"x": torch.zeros(1)}, path)  # a pickle-based file
    with pytest.raises(ValueError, match="never unpickles"):
        load_weights(path)


def test_short_schedules_train_on_the_images_as_they_are():
    assert not TrainConfig(epochs=AUGMENT_MIN_EPOCHS - 1).augments()
    assert TrainConfig(epochs=AUGMENT_MIN_EPOCHS).augments()
    assert TrainConfig(epochs=1, augment=True).augments()
    assert not TrainConfig(epochs=50, augment=False).augments()


def test_augment_decides_whether_images_are_translated_and_flipped(data):
    space = NB201Space(channels=4, cells=1)
    short = TrainConfig(epochs=1, batch_size=128)

    def trained(config):
        model = _model(space)
        train(model, data, config)
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    plain = trained(dataclasses.replace(short, translate=0, flip=False))
    assert torch.equal(trained(short), plain)
    assert not torch.allclose(trained(dataclasses.replace(short, augment=True)), plain)
