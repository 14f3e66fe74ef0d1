"""``register_arrays`` and ``register_torch_dataset``: layouts, dtypes, laziness, bad inputs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import Dataset, IterableDataset, TensorDataset

from optuna_nas.data import (
    dataset_names,
    load_data,
    register_arrays,
    register_dataset,
    register_torch_dataset,
)

_ids = itertools.count()


def _name() -> str:
    """A fresh name per registration: the registry is global to the test session."""
    return f"test-register-{next(_ids)}"


def _images(n: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def _all(data) -> torch.Tensor:
    return torch.cat([data.train_x, data.val_x])


# ---------------------------------------------------------------------- arrays
def test_nchw_uint8_arrays_come_back_unchanged():
    x, y = _images(40, (3, 12, 12)), np.arange(40) % 4
    name = _name()
    register_arrays(name, x[:30], y[:30], x[30:], y[30:])
    data = load_data(name, val_size=5)
    assert name in dataset_names() and data.name == name
    assert data.input_shape == (3, 12, 12) and data.num_classes == 4
    assert torch.equal(data.test_x, torch.from_numpy(x[30:]))
    train = {bytes(im) for im in x[:30]}
    assert {bytes(im.numpy()) for im in _all(data)} == train


def test_nhwc_float_tensors_become_uint8_nchw():
    x = torch.rand(20, 10, 10, 3)
    y = torch.arange(20) % 2
    name = _name()
    register_arrays(name, x[:16], y[:16], x[16:], y[16:], num_classes=5)
    data = load_data(name, val_size=2)
    assert data.input_shape == (3, 10, 10) and data.num_classes == 5
    expected = (x[16:] * 255).round().to(torch.uint8).permute(0, 3, 1, 2)
    assert torch.equal(data.test_x, expected)


def test_grayscale_nhw_and_integer_arrays():
    x = np.random.default_rng(1).integers(0, 256, (12, 9, 9)).astype(np.int64)
    y = np.array([0, 1] * 6)
    name = _name()
    register_arrays(name, x, y, x[:4], y[:4])
    data = load_data(name, val_size=2)
    assert data.input_shape == (1, 9, 9)
    assert torch.equal(data.test_x[:, 0], torch.from_numpy(x[:4].astype(np.uint8)))
    nhwc1 = _name()  # (N, H, W, 1) is grayscale too
    register_arrays(nhwc1, x[..., None], y, x[:4, ..., None], y[:4])
    assert load_data(nhwc1, val_size=2).input_shape == (1, 9, 9)


def test_a_name_is_registered_once_unless_overwritten():
    x, y = _images(10, (1, 8, 8)), np.arange(10) % 2
    name = _name()
    register_arrays(name, x, y, x, y)
    with pytest.raises(ValueError, match=f"dataset '{name}' is already registered.*overwrite=True"):
        register_arrays(name, x, y, x, y)
    register_arrays(name, x[:, :, :, ::-1], y, x, y, overwrite=True)
    assert torch.equal(load_data(name, val_size=2).test_x, torch.from_numpy(x))
    for bad in ("imagefolder:mine", ""):
        with pytest.raises(ValueError, match="name="):
            register_arrays(bad, x, y, x, y)
        with pytest.raises(ValueError, match="name="):
            register_dataset(bad, lambda root: (x, y, x, y, 2))


_X, _Y = _images(10, (3, 8, 8)), np.arange(10) % 2


@pytest.mark.parametrize(
    ("args", "kwargs", "pattern"),
    [
        ((_images(10, (4, 8, 8)), _Y, _X, _Y), {}, r"train_x has shape \(10, 4, 8, 8\)"),
        ((_X, _Y, _images(10, (2, 3, 8, 8, 1)), _Y), {}, r"test_x has shape \(10, 2, 3, 8, 8, 1\)"),
        ((_X, _Y, _X * 2.0, _Y), {}, r"test_x: float images must lie in \[0, 1\].*Normalize"),
        ((np.full((10, 3, 8, 8), np.nan), _Y, _X, _Y), {}, "train_x: .*NaN"),
        (
            (_X.astype(np.int64) - 1, _Y, _X, _Y),
            {},
            r"train_x: integer images must lie in \[0, 255\]",
        ),
        ((_X.astype(bool), _Y, _X, _Y), {}, "train_x has dtype bool"),
        ((_X[:0], _Y[:0], _X, _Y), {}, "train_x holds no images"),
        ((_images(10, (3, 4, 8)), _Y, _X, _Y), {}, "train_x: images are 4x8.*at least 8x8"),
        ((_X, _Y, _images(10, (3, 9, 9)), _Y), {}, r"train_x images are \(3, 8, 8\) but test_x"),
        ((_X, _Y[:9], _X, _Y), {}, r"train_y has shape \(9,\); expected \(10,\)"),
        ((_X, _Y, _X, _Y.astype(float)), {}, "test_y has dtype float64; labels must be integers"),
        ((_X, _Y - 1, _X, _Y), {}, "train_y: label -1 is negative"),
        (
            (_X, _Y, _X, _Y + 3),
            {"num_classes": 3},
            r"test_y: label 4 is not in \[0, num_classes=3\)",
        ),
        ((_X, _Y * 0, _X, _Y * 0), {}, "num_classes=1: a classifier needs at least 2 classes"),
        ((_X, _Y, _X, _Y), {"num_classes": 1}, "num_classes=1"),
        ((_X, _Y, _X, _Y), {"num_classes": 2.5}, "num_classes=2.5 must be an int"),
    ],
)
def test_bad_arrays_are_named(args, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        register_arrays(_name(), *args, **kwargs)


# --------------------------------------------------------------- torch datasets
class Counting(Dataset):
    """Samples from a list, counting reads (to see when the registry materialises it)."""

    def __init__(self, samples: list) -> None:
        self.samples, self.reads = samples, 0

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):  # noqa: ANN204
        self.reads += 1
        return self.samples[i]


def test_a_tensor_dataset_is_read_once_on_first_load():
    x, y = torch.rand(30, 3, 8, 8), torch.arange(30) % 3
    train = Counting(list(TensorDataset(x[:24], y[:24])))
    test = TensorDataset(x[24:], y[24:])
    name = _name()
    register_torch_dataset(name, train, test)
    assert train.reads == 0  # registering reads nothing
    first = load_data(name, val_size=4)
    second = load_data(name, val_size=4, seed=1)
    assert train.reads == 24 and torch.equal(first.test_x, second.test_x)
    assert first.input_shape == (3, 8, 8) and first.num_classes == 3
    assert torch.equal(first.test_x, (x[24:] * 255).round().to(torch.uint8))
    assert first.test_y.tolist() == (y[24:]).tolist()


def test_pil_images_keep_grayscale_and_mix_to_rgb():
    rng = np.random.default_rng(0)
    gray = [(Image.fromarray(rng.integers(0, 256, (10, 12), dtype=np.uint8)), i % 2)
            for i in range(8)]  # fmt: skip
    name = _name()
    register_torch_dataset(name, gray, gray[:2])
    data = load_data(name, val_size=2)
    assert data.input_shape == (1, 10, 12)
    assert np.array_equal(data.test_x[0, 0].numpy(), np.asarray(gray[0][0]))
    colour = [(Image.new("RGB", (12, 10), (255, 0, 0)), 1)]
    mixed = _name()
    register_torch_dataset(mixed, gray + colour, gray[:2])
    data = load_data(mixed, val_size=2)
    assert data.input_shape == (3, 10, 12)
    # The grayscale test images repeat their channel.
    assert torch.equal(data.test_x[:, 0], data.test_x[:, 2])


def test_numpy_samples_and_an_iterable_dataset():
    class Stream(IterableDataset):
        def __iter__(self):  # noqa: ANN204
            rng = np.random.default_rng(2)
            for i in range(6):
                yield rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), np.int64(i % 2)

    name = _name()
    register_torch_dataset(name, Stream(), Stream(), num_classes=4)
    data = load_data(name, val_size=2)
    assert data.input_shape == (3, 8, 8) and data.num_classes == 4
    first = next(iter(Stream()))[0]
    assert np.array_equal(data.test_x[0].numpy(), first.transpose(2, 0, 1))


def _load_error(train, test=None, **kwargs) -> str:
    name = _name()
    register_torch_dataset(name, train, test if test is not None else train, **kwargs)
    with pytest.raises(ValueError) as info:
        load_data(name, val_size=1)
    return str(info.value)


_SAMPLE = (torch.rand(3, 8, 8), 1)


def test_bad_torch_datasets_are_named():
    assert "train[1] is a Tensor; the dataset must yield (image, label) pairs" in _load_error(
        [_SAMPLE, torch.rand(3, 8, 8)]
    )
    assert "train[0]: the image is a str" in _load_error([("img.png", 0), _SAMPLE])
    assert "train[1]: the label is 0.5" in _load_error([_SAMPLE, (torch.rand(3, 8, 8), 0.5)])
    assert "train[0]: the label is True" in _load_error([(torch.rand(3, 8, 8), True), _SAMPLE])
    assert "train[0]: the image has shape (4, 8, 8)" in _load_error([(torch.rand(4, 8, 8), 0)])
    normalised = [(torch.randn(3, 8, 8) * 2, 0), _SAMPLE]
    message = _load_error(normalised)
    assert "train[0]: float images must lie in [0, 1]" in message and "Normalize" in message
    sizes = _load_error([_SAMPLE, (torch.rand(3, 9, 8), 0)])
    assert "train[0] is 8x8 but train[1] is 9x8" in sizes and "transforms.Resize((N, N))" in sizes
    assert "test holds no samples" in _load_error([_SAMPLE, (torch.rand(3, 8, 8), 0)], [])
    assert "test labels: label 7 is not in [0, num_classes=2)" in _load_error(
        [_SAMPLE, (torch.rand(3, 8, 8), 0)], [(torch.rand(3, 8, 8), 7)], num_classes=2
    )
    assert "train: images are 4x4" in _load_error([(torch.rand(1, 4, 4), i % 2) for i in range(2)])


def test_a_non_dataset_is_refused_when_registered():
    with pytest.raises(TypeError, match="test: expected a torch.utils.data.Dataset.*got int"):
        register_torch_dataset(_name(), [_SAMPLE], 3)
    with pytest.raises(ValueError, match="num_classes=0"):
        register_torch_dataset(_name(), [_SAMPLE], [_SAMPLE], num_classes=0)
