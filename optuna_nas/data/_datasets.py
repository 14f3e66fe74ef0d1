"""Datasets as device-resident tensors with a fixed-seed train/validation/test split."""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

import numpy as np
import torch

from optuna_nas.data._imagefolder import PREFIX, imagefolder_path, load_imagefolder

_logger = logging.getLogger(__name__)

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@dataclass
class ImageData:
    """A classification dataset split into train / validation / test tensors.

    Images are ``uint8`` (N, C, H, W) and labels ``int64``, on one device;
    normalisation happens per batch on the device (see :meth:`normalize`).
    """

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    flip: bool = True

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])  # type: ignore[return-value]

    @property
    def device(self) -> torch.device:
        return self.train_x.device

    def to(self, device: str | torch.device) -> ImageData:
        """The same data on ``device`` (a no-op when it is already there)."""
        device = torch.device(device)
        if self.device == device:
            return self
        moved = {k: getattr(self, k).to(device) for k in _TENSORS}
        return ImageData(**{**self.__dict__, **moved})

    def normalize(self, x: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``uint8`` images -> normalised floats on the same device."""
        mean = torch.tensor(self.mean, device=x.device, dtype=dtype).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device, dtype=dtype).view(1, -1, 1, 1)
        return (x.to(dtype) / 255.0 - mean) / std

    def __repr__(self) -> str:
        return (
            f"ImageData({self.name!r}, train={len(self.train_y)}, val={len(self.val_y)}, "
            f"test={len(self.test_y)}, shape={self.input_shape}, classes={self.num_classes}, "
            f"device={self.device})"
        )


_TENSORS = ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")

Loader = Callable[[Path], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]]
"""``root -> (train_x uint8 NCHW, train_y, test_x, test_y, num_classes)``."""

_LOADERS: dict[str, Loader] = {}


def register_dataset(name: str, loader: Loader, *, overwrite: bool = False) -> None:
    """Make ``load_data(name)`` available for a user's own data.

    Parameters
    ----------
    name:
        The name for :func:`load_data` and ``--dataset``.
    loader:
        ``root -> (train_x, train_y, test_x, test_y, num_classes)`` with ``uint8`` NCHW
        images (see :data:`Loader`); called on every :func:`load_data`. For arrays or a torch
        ``Dataset`` use :func:`register_arrays` or :func:`register_torch_dataset`.
    overwrite:
        Replace a dataset of the same name instead of refusing.
    """
    check_name(name, overwrite)
    _LOADERS[name] = loader


def check_name(name: str, overwrite: bool) -> None:
    """Refuse a name :func:`register_dataset` would refuse (before any data is converted)."""
    if not isinstance(name, str) or not name or name.startswith(PREFIX):
        raise ValueError(
            f"name={name!r}: a dataset name is a non-empty string that does not start with "
            f"{PREFIX!r} (that prefix reads a folder of images)."
        )
    if name in _LOADERS and not overwrite:
        raise ValueError(f"dataset {name!r} is already registered; pass overwrite=True.")


def dataset_names() -> list[str]:
    """The registered dataset names (``imagefolder:DIR`` works besides them)."""
    return sorted(_LOADERS)


def load_data(
    name: str,
    *,
    root: str | os.PathLike[str] | None = None,
    val_size: int | float = 0.1,
    train_size: int | None = None,
    test_size: int | None = None,
    seed: int = 0,
    image_size: int | None = None,
    device: str | torch.device = "cpu",
) -> ImageData:
    """Load a registered dataset and split it with a fixed seed.

    Parameters
    ----------
    name:
        ``fashion-mnist``, ``cifar10``, ``cifar100``, ``synthetic``, a name registered with
        :func:`register_dataset` (or :func:`register_arrays`, :func:`register_torch_dataset`),
        or ``imagefolder:DIR`` for a folder of images in torchvision's ImageFolder layout
        (``DIR/<class>/*.png``, or ``DIR/train/<class>/`` and ``DIR/test/<class>/``; without
        them a stratified 20 % of each class, drawn with ``seed``, is the test set).
        A relative ``DIR`` is relative to the working directory; the data's ``name`` is
        ``imagefolder:`` and the absolute folder.
    root:
        Where the files are or go (default ``$OPTUNA_NAS_DATA`` or ``~/.cache/optuna-nas``);
        not used by ``imagefolder:DIR``.
    val_size:
        Validation images taken from the training set (count, or a fraction).
    train_size, test_size:
        Use only this many training / test images (small searches, tests).
    seed:
        Seed of the split and the subsets; the same seed gives the same split.
    image_size:
        ``imagefolder:DIR`` only: resize every image to ``image_size x image_size`` (at least
        8); without it the folder's images must all have the same size.
    device:
        Where the tensors live; training reads batches from there.
    """
    for key, size in (("train_size", train_size), ("test_size", test_size)):
        if size is not None and (isinstance(size, bool) or not isinstance(size, Integral)
                                 or size < 1):  # fmt: skip
            raise ValueError(
                f"{key}={size!r} (--{key.replace('_', '-')}): must be a count >= 1, or None for "
                "all images."
            )
    if isinstance(val_size, float) and not 0 < val_size < 1:  # NaN too
        raise ValueError(f"val_size={val_size!r} (--val-size): a fraction must be in (0, 1).")
    folder = imagefolder_path(name)
    if folder is not None:
        train_x, train_y, test_x, test_y, num_classes = load_imagefolder(
            folder, image_size=image_size, seed=seed
        )
        name = f"{PREFIX}{folder}"
    else:
        if name not in _LOADERS:
            raise ValueError(
                f"unknown dataset {name!r}; available: {dataset_names()}, or imagefolder:DIR "
                "for a folder of your own images."
            )
        if image_size is not None:
            raise ValueError(
                f"image_size={image_size!r} (--image-size) resizes imagefolder:DIR images only; "
                f"dataset {name!r} has a fixed size: leave it out."
            )
        default_root = os.environ.get("OPTUNA_NAS_DATA") or Path.home() / ".cache" / "optuna-nas"
        root = Path(root or default_root)
        train_x, train_y, test_x, test_y, num_classes = _LOADERS[name](root)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(train_y))
    n_val = int(round(val_size * len(order))) if isinstance(val_size, float) else int(val_size)
    if not 0 < n_val < len(order):
        raise ValueError(
            f"val_size={val_size!r} leaves no training or no validation images "
            f"(dataset has {len(order)} training images)."
        )
    val_idx, train_idx = order[:n_val], order[n_val:]
    if train_size is not None:
        train_idx = train_idx[:train_size]
    test_idx = np.arange(len(test_y))
    if test_size is not None:
        test_idx = rng.permutation(len(test_y))[:test_size]
    train_float = train_x[train_idx].astype(np.float32) / 255.0
    mean = tuple(float(v) for v in train_float.mean(axis=(0, 2, 3)))
    std = tuple(float(v) for v in train_float.std(axis=(0, 2, 3)) + 1e-6)

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(device)

    return ImageData(
        name=name,
        train_x=tensor(train_x[train_idx]),
        train_y=tensor(train_y[train_idx].astype(np.int64)),
        val_x=tensor(train_x[val_idx]),
        val_y=tensor(train_y[val_idx].astype(np.int64)),
        test_x=tensor(test_x[test_idx]),
        test_y=tensor(test_y[test_idx].astype(np.int64)),
        num_classes=num_classes,
        mean=mean,
        std=std,
    )


# ------------------------------------------------------------------------- loaders
def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _find_idx(dirs: list[Path], stem: str) -> Path | None:
    for d in dirs:
        for suffix in ("", ".gz"):
            if (d / (stem + suffix)).is_file():
                return d / (stem + suffix)
    return None


def _fashion_mnist(root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    stems = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]  # fmt: skip
    unpacked = root / "debian"  # where an earlier call unpacked Debian's package
    dirs = [root / "FashionMNIST" / "raw", root / "fashion-mnist", root, DEBIAN_FASHION_MNIST,
            unpacked / DEBIAN_FASHION_MNIST.relative_to("/")]  # fmt: skip
    if any(_find_idx(dirs, s) is None for s in stems):
        _torchvision_download("FashionMNIST", root)
    if any(_find_idx(dirs, s) is None for s in stems):
        _debian_package("dataset-fashion-mnist", unpacked)
    paths = [_find_idx(dirs, s) for s in stems]
    if any(p is None for p in paths):
        raise FileNotFoundError(_missing_message("fashion-mnist", root, dirs))
    train_x, train_y, test_x, test_y = (_read_idx(p) for p in paths)  # type: ignore[arg-type]
    return train_x[:, None], train_y, test_x[:, None], test_y, 10


def _cifar(name: str, classes: int) -> Loader:
    def load(root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
        tv_name = "CIFAR10" if classes == 10 else "CIFAR100"
        sets = [_torchvision_download(tv_name, root, train=t) for t in (True, False)]
        if any(s is None for s in sets):
            raise FileNotFoundError(_missing_message(name, root, [root]))
        (train, test) = sets
        return (
            train.data.transpose(0, 3, 1, 2),
            np.asarray(train.targets),
            test.data.transpose(0, 3, 1, 2),
            np.asarray(test.targets),
            classes,
        )

    return load


def _torchvision_download(name: str, root: Path, train: bool = True):  # noqa: ANN202
    """The torchvision dataset, downloading it if possible; ``None`` when it cannot."""
    try:
        import torchvision
    except ImportError:
        return None
    try:
        return getattr(torchvision.datasets, name)(str(root), train=train, download=True)
    except (OSError, RuntimeError):  # no network, or a corrupt partial download
        return None


def _debian_package(package: str, target: Path) -> None:
    """Fetch a Debian package and unpack it under ``target`` (no system install).

    Uses ``apt-get download`` + ``dpkg-deb -x``, so it works without root as long as
    the package lists are present (as root, a missing list is fetched first).
    """
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        return
    target.mkdir(parents=True, exist_ok=True)
    _logger.warning("fetching Debian package %s into %s", package, target)
    with tempfile.TemporaryDirectory() as tmp:
        for attempt in range(2):
            done = subprocess.run(["apt-get", "download", package], cwd=tmp,
                                  capture_output=True, text=True)  # fmt: skip
            if done.returncode == 0 or attempt == 1 or os.geteuid() != 0:
                break
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
        for deb in Path(tmp).glob("*.deb"):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=False)


def _missing_message(name: str, root: Path, dirs: list[Path]) -> str:
    message = (
        f"dataset {name!r} is not on this machine and could not be downloaded "
        f"(no internet?). Looked in: {', '.join(str(d) for d in dirs)}. "
    )
    if name == "fashion-mnist":
        return message + (
            "Install Debian's copy with `apt-get install dataset-fashion-mnist`, or put the "
            f"four IDX files (train-images-idx3-ubyte.gz, ...) into {root / 'fashion-mnist'}."
        )
    return message + (
        f"Download it on a machine with internet access (torchvision.datasets) and copy the "
        f"extracted folder into {root}, or pass --data-root/root= pointing to it."
    )


def _synthetic(root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """A small learnable 10-class task: each class is a fixed random texture, shifted and noised.

    Generated, deterministic, no files; for tests and demos.
    """
    rng = np.random.default_rng(1234)
    classes, size = 10, 16
    templates = rng.normal(size=(classes, 3, size + 4, size + 4))

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(classes, size=n)
        dx, dy = rng.integers(0, 5, size=(2, n))
        x = np.stack(
            [templates[c, :, i : i + size, j : j + size] for c, i, j in zip(y, dx, dy, strict=True)]
        )
        x = x + rng.normal(scale=0.6, size=x.shape)
        return np.clip(128 + 40 * x, 0, 255).astype(np.uint8), y

    train_x, train_y = draw(2400)
    test_x, test_y = draw(600)
    return train_x, train_y, test_x, test_y, classes


register_dataset("fashion-mnist", _fashion_mnist)
register_dataset("cifar10", _cifar("cifar10", 10))
register_dataset("cifar100", _cifar("cifar100", 100))
register_dataset("synthetic", _synthetic)
