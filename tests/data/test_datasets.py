import numpy as np
import pytest
import torch

from optuna_nas.data import augment, dataset_names, load_data
from optuna_nas.data._datasets import DEBIAN_FASHION_MNIST


def test_registry_lists_the_builtin_datasets():
    assert {"fashion-mnist", "cifar10", "cifar100", "synthetic"} <= set(dataset_names())


def test_unknown_dataset_names_the_available_ones():
    with pytest.raises(ValueError, match="unknown dataset 'mnistt'.*fashion-mnist"):
        load_data("mnistt")


def test_split_is_fixed_by_the_seed_and_disjoint():
    a = load_data("synthetic", val_size=200, seed=3)
    b = load_data("synthetic", val_size=200, seed=3)
    c = load_data("synthetic", val_size=200, seed=4)
    assert torch.equal(a.val_x, b.val_x) and torch.equal(a.train_y, b.train_y)
    assert not torch.equal(a.val_x, c.val_x)
    train = {bytes(x.numpy()) for x in a.train_x}
    assert not any(bytes(x.numpy()) in train for x in a.val_x)
    assert len(a.val_y) == 200 and a.train_x.dtype == torch.uint8


def test_subsets_and_normalisation():
    data = load_data("synthetic", train_size=300, val_size=0.1, test_size=50)
    assert (len(data.train_y), len(data.test_y)) == (300, 50)
    x = data.normalize(data.train_x)
    assert x.dtype == torch.float32
    assert abs(x.mean().item()) < 0.05 and abs(x.std().item() - 1) < 0.05


def test_val_size_must_leave_both_splits():
    with pytest.raises(ValueError, match="val_size"):
        load_data("synthetic", val_size=0)


def test_fashion_mnist_reads_the_real_idx_files():
    data = load_data("fashion-mnist", train_size=500, val_size=100, test_size=100)
    assert data.input_shape == (1, 28, 28) and data.num_classes == 10
    assert len(data.test_y) == 100 and int(data.train_y.max()) == 9


def test_cifar_without_files_or_internet_says_what_to_do(tmp_path):
    try:
        load_data("cifar10", root=tmp_path)
    except FileNotFoundError as exc:
        assert "cifar10" in str(exc) and str(tmp_path) in str(exc)
    # With internet access the download succeeds, which is also correct.


def test_augment_translates_and_flips_within_the_batch():
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.uint8).view(2, 1, 6, 6)
    assert torch.equal(augment(x, 0, False), x)
    gen = torch.Generator().manual_seed(0)
    out = augment(x.repeat(64, 1, 1, 1), translate=2, flip=True, generator=gen)
    assert out.shape == (128, 1, 6, 6)
    # Every output pixel is padding (0) or a pixel of its own image.
    for img, src in zip(out, x.repeat(64, 1, 1, 1), strict=True):
        assert set(img.unique().tolist()) <= set(src.unique().tolist()) | {0}
    assert len({bytes(o.numpy()) for o in out[::2]}) > 5  # shifts differ per sample
    flipped = augment(x, 0, True, torch.Generator().manual_seed(1))
    for img, src in zip(flipped, x, strict=True):
        assert torch.equal(img, src) or torch.equal(img, src.flip(2))


def test_synthetic_data_is_deterministic():
    a, b = load_data("synthetic"), load_data("synthetic")
    assert np.array_equal(a.test_x.numpy(), b.test_x.numpy())


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.mark.skipif(DEBIAN_FASHION_MNIST.exists(), reason="the system copy would be read first")
def test_an_earlier_unpacked_debian_package_is_read_without_fetching_again(tmp_path):
    # The layout `apt-get download` + `dpkg-deb -x` leaves under the data root.
    unpacked = tmp_path / "debian" / "usr/share/datasets/fashion-mnist"
    unpacked.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 60), ("t10k", 20)):
        _write_idx(unpacked / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(unpacked / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, n))
    data = load_data("fashion-mnist", root=tmp_path, val_size=10)
    assert (len(data.train_y), len(data.val_y), len(data.test_y)) == (50, 10, 20)
    assert data.input_shape == (1, 28, 28)
