"""Register a user's data from arrays or from a torch ``Dataset``.

Both end in :func:`register_dataset` with ``uint8`` NCHW arrays, the form every loader
returns; this module only validates and converts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image

from optuna_nas.data._datasets import check_name, register_dataset
from optuna_nas.data._imagefolder import MIN_SIZE, is_grayscale, pil_to_chw

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]

_LAYOUTS = "(N, C, H, W), (N, H, W, C) with C = 1 or 3, or (N, H, W)"
_FLOAT_HINT = (
    "scale them to [0, 1] or pass uint8, and drop any Normalize transform: optuna-nas "
    "normalises the images itself"
)


def register_arrays(
    name: str,
    train_x: Any,
    train_y: Any,
    test_x: Any,
    test_y: Any,
    *,
    num_classes: int | None = None,
    overwrite: bool = False,
) -> None:
    """Make ``load_data(name)`` return these images and labels.

    The arrays are validated and converted now, once; :func:`load_data` splits the
    validation set off ``train_x`` as for every dataset.

    Parameters
    ----------
    name:
        The name for :func:`load_data` and ``--dataset``.
    train_x, test_x:
        Images as NumPy arrays or torch tensors, (N, C, H, W), (N, H, W, C) with C = 1 or 3,
        or (N, H, W) for grayscale; ``uint8`` (or integers in [0, 255]) or floats in [0, 1].
        Both sets need the same image shape, at least 8 x 8.
    train_y, test_y:
        Integer class labels, one per image, in ``[0, num_classes)``.
    num_classes:
        Number of classes (default: the largest label + 1); at least 2.
    overwrite:
        Replace a dataset of the same name instead of refusing.

    Examples
    --------
    >>> import numpy as np
    >>> from optuna_nas.data import load_data, register_arrays
    >>> x = np.random.default_rng(0).integers(0, 256, (100, 16, 16, 3), dtype=np.uint8)
    >>> y = np.arange(100) % 4
    >>> register_arrays("my-arrays", x[:80], y[:80], x[80:], y[80:], overwrite=True)
    >>> load_data("my-arrays", val_size=8).input_shape
    (3, 16, 16)
    """
    check_name(name, overwrite)
    _check_num_classes(num_classes)
    arrays = _finish(_images(train_x, "train_x"), _as_numpy(train_y),
                     _images(test_x, "test_x"), _as_numpy(test_y), num_classes)  # fmt: skip
    register_dataset(name, lambda root: arrays, overwrite=overwrite)


def register_torch_dataset(
    name: str,
    train: Any,
    test: Any,
    *,
    num_classes: int | None = None,
    overwrite: bool = False,
) -> None:
    """Make ``load_data(name)`` read a torch ``Dataset`` of ``(image, label)`` pairs.

    The datasets are read once, on the first :func:`load_data` of ``name`` (so registering
    costs nothing), and kept in memory as ``uint8`` arrays; training never calls them again,
    so random transforms in them would be frozen: leave augmentation to optuna-nas.

    Parameters
    ----------
    name:
        The name for :func:`load_data` and ``--dataset``.
    train, test:
        Map-style or iterable datasets yielding ``(image, label)``: the image a PIL image
        (grayscale stays 1 channel, others become RGB), a tensor (C, H, W) ``uint8`` or float
        in [0, 1] (what ``transforms.ToTensor`` gives), or a NumPy array (H, W, C), (C, H, W)
        or (H, W); the label an ``int`` or a one-element integer tensor. All images need the
        same size (add ``transforms.Resize((N, N))`` if not); grayscale images are repeated
        to 3 channels when others are in colour.
    num_classes:
        Number of classes (default: the largest label + 1); at least 2.
    overwrite:
        Replace a dataset of the same name instead of refusing.
    """
    check_name(name, overwrite)
    _check_num_classes(num_classes)
    for what, dataset in (("train", train), ("test", test)):
        if not (hasattr(dataset, "__getitem__") or hasattr(dataset, "__iter__")):
            raise TypeError(
                f"{what}: expected a torch.utils.data.Dataset yielding (image, label) pairs, "
                f"got {type(dataset).__name__}."
            )
    cache: list[Arrays] = []

    def load(root: object) -> Arrays:
        if not cache:  # read once: every load_data after the first reuses the arrays
            (tx, ty), (sx, sy) = _materialise(train, "train"), _materialise(test, "test")
            if tx.shape[1] != sx.shape[1]:  # one set all grayscale, the other in colour
                tx, sx = (np.repeat(x, 3 // x.shape[1], axis=1) for x in (tx, sx))
            names = ("train", "train labels", "test", "test labels")
            cache.append(_finish(tx, ty, sx, sy, num_classes, names))
        return cache[0]

    register_dataset(name, load, overwrite=overwrite)


def _check_num_classes(num_classes: int | None) -> None:
    if num_classes is None:
        return
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise ValueError(f"num_classes={num_classes!r} must be an int.")
    if num_classes < 2:
        raise ValueError(f"num_classes={num_classes}: a classifier needs at least 2 classes.")


def _finish(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    num_classes: int | None,
    names: tuple[str, str, str, str] = ("train_x", "train_y", "test_x", "test_y"),
) -> Arrays:
    """Check images against labels and each other; the loader's five-tuple."""
    x_what, y_what, tx_what, ty_what = names
    if train_x.shape[1:] != test_x.shape[1:]:
        raise ValueError(
            f"{x_what} images are {train_x.shape[1:]} but {tx_what} images are "
            f"{test_x.shape[1:]} (C, H, W); both sets need the same shape."
        )
    train_y = _labels(train_y, y_what, len(train_x))
    test_y = _labels(test_y, ty_what, len(test_x))
    largest = int(max(train_y.max(), test_y.max()))
    if num_classes is None:
        num_classes = largest + 1
    if num_classes < 2:
        raise ValueError(
            f"num_classes={num_classes}: a classifier needs at least 2 classes (the labels "
            f"go up to {largest})."
        )
    for what, y in ((y_what, train_y), (ty_what, test_y)):
        if int(y.max()) >= num_classes:
            raise ValueError(
                f"{what}: label {int(y.max())} is not in [0, num_classes={num_classes}); pass "
                "a larger num_classes or fix the labels."
            )
    return train_x, train_y, test_x, test_y, int(num_classes)


def _as_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _labels(y: np.ndarray, what: str, n: int) -> np.ndarray:
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"{what} has shape {y.shape}; expected ({n},), one label per image.")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{what} has dtype {y.dtype}; labels must be integers (class indices).")
    if y.min() < 0:
        raise ValueError(f"{what}: label {int(y.min())} is negative; labels start at 0.")
    return y.astype(np.int64)


def _images(x: Any, what: str) -> np.ndarray:
    """A batch in any supported layout and dtype -> ``uint8`` NCHW."""
    x = _as_numpy(x)
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[1] not in (1, 3) and x.shape[3] in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    elif x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"{what} has shape {x.shape}; images must be {_LAYOUTS}.")
    if len(x) == 0:
        raise ValueError(f"{what} holds no images.")
    _check_size(x.shape[2:], what)
    return np.ascontiguousarray(_to_uint8(x, what))


def _check_size(hw: tuple[int, ...], what: str) -> None:
    if min(hw) < MIN_SIZE:
        raise ValueError(
            f"{what}: images are {hw[0]}x{hw[1]} (H x W); the networks need at least "
            f"{MIN_SIZE}x{MIN_SIZE}: resize them."
        )


def _to_uint8(x: np.ndarray, what: str) -> np.ndarray:
    if x.dtype == np.uint8:
        return x
    if np.issubdtype(x.dtype, np.integer):
        if x.size and (x.min() < 0 or x.max() > 255):
            raise ValueError(
                f"{what}: integer images must lie in [0, 255], got {x.min()} .. {x.max()}."
            )
        return x.astype(np.uint8)
    if np.issubdtype(x.dtype, np.floating):
        if not np.isfinite(x).all():
            raise ValueError(f"{what}: the images contain NaN or infinite values.")
        if x.size and (x.min() < 0.0 or x.max() > 1.0):
            raise ValueError(
                f"{what}: float images must lie in [0, 1], got {x.min():.3g} .. "
                f"{x.max():.3g}; {_FLOAT_HINT}."
            )
        return np.round(x * 255.0).astype(np.uint8)
    raise ValueError(f"{what} has dtype {x.dtype}; images must be uint8 or floats in [0, 1].")


# ----------------------------------------------------------------- torch datasets
def _samples(dataset: Any):  # noqa: ANN202
    if isinstance(dataset, torch.utils.data.IterableDataset) or not hasattr(dataset, "__len__"):
        yield from dataset
    else:
        for i in range(len(dataset)):
            yield dataset[i]


def _materialise(dataset: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Every sample as ``uint8`` (C, H, W), stacked; labels as integers."""
    images, labels = [], []
    for i, sample in enumerate(_samples(dataset)):
        if not isinstance(sample, (tuple, list)) or len(sample) < 2:
            raise ValueError(
                f"{what}[{i}] is a {type(sample).__name__}; the dataset must yield "
                "(image, label) pairs."
            )
        images.append(_sample_chw(sample[0], f"{what}[{i}]"))
        labels.append(_label(sample[1], f"{what}[{i}]"))
    if not images:
        raise ValueError(f"{what} holds no samples.")
    channels = max(image.shape[0] for image in images)
    first = images[0].shape[1:]
    for i, image in enumerate(images):
        if image.shape[1:] != first:
            raise ValueError(
                f"{what}[0] is {first[0]}x{first[1]} but {what}[{i}] is {image.shape[1]}x"
                f"{image.shape[2]} (H x W); all images need one size: add "
                "transforms.Resize((N, N)) to the dataset."
            )
    _check_size(first, what)
    # A colour dataset with a few grayscale images: those repeat their one channel.
    stacked = np.stack([np.broadcast_to(im, (channels, *first)) for im in images])
    return stacked, np.asarray(labels, dtype=np.int64)


def _sample_chw(image: Any, what: str) -> np.ndarray:
    if isinstance(image, Image.Image):
        return pil_to_chw(image, rgb=not is_grayscale(image.mode))
    if not isinstance(image, (torch.Tensor, np.ndarray)):
        raise ValueError(
            f"{what}: the image is a {type(image).__name__}; expected a PIL image, a tensor or "
            "a NumPy array."
        )
    x = _as_numpy(image)
    if x.ndim == 2:
        x = x[None]
    # Tensors are (C, H, W) by torch's convention; a trailing channel axis is (H, W, C).
    elif x.ndim == 3 and x.shape[0] not in (1, 3) and x.shape[2] in (1, 3):
        x = x.transpose(2, 0, 1)
    elif x.ndim != 3 or x.shape[0] not in (1, 3):
        raise ValueError(
            f"{what}: the image has shape {x.shape}; expected (C, H, W), (H, W, C) with "
            "C = 1 or 3, or (H, W)."
        )
    return _to_uint8(x, what)


def _label(label: Any, what: str) -> int:
    if isinstance(label, torch.Tensor) and label.numel() == 1 and not label.is_floating_point():
        label = label.item()
    elif isinstance(label, np.ndarray) and label.size == 1:
        label = label.reshape(()).item() if np.issubdtype(label.dtype, np.integer) else label
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
        raise ValueError(f"{what}: the label is {label!r}; labels must be ints (class indices).")
    if label < 0:
        raise ValueError(f"{what}: label {label} is negative; labels start at 0.")
    return int(label)
