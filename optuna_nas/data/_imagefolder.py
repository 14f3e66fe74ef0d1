"""Read a folder of images in torchvision's ImageFolder layout into ``uint8`` NCHW arrays.

Layouts: ``DIR/<class>/<image>`` (split here into train and test with a seed), or
``DIR/train/<class>/...`` with ``DIR/test/<class>/...`` (the user's own split). Nothing is
cached on disk: a few thousand small images decode in seconds, and a cache would go stale
when the user edits the folder.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image

_logger = logging.getLogger(__name__)

PREFIX = "imagefolder:"
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".pgm", ".png", ".ppm", ".tif", ".tiff",
                    ".webp")  # fmt: skip
"""The suffixes torchvision's ImageFolder reads (matched case-insensitively)."""
MIN_SIZE = 8
"""The networks reduce the resolution twice and pool; smaller inputs vanish."""
TEST_FRACTION = 0.2
"""Share of each class held out as the test set when the folder has no ``test`` split."""

_RESIZE_HINT = "pass --image-size N (CLI) or image_size=N (load_data) to resize them all to N x N"
# zip archives made on macOS carry this folder of resource forks next to the real classes.
_NOT_CLASSES = {"__MACOSX"}
_READ_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]


def imagefolder_path(name: str) -> Path | None:
    """The folder of an ``imagefolder:DIR`` dataset name, absolute; ``None`` for other names."""
    if not name.startswith(PREFIX):
        return None
    directory = name[len(PREFIX) :]
    if not directory:
        raise ValueError("dataset 'imagefolder:' names no folder; use imagefolder:DIR.")
    return Path(directory).expanduser().resolve()


def load_imagefolder(
    directory: str | os.PathLike[str],
    *,
    image_size: int | None = None,
    seed: int = 0,
    test_fraction: float = TEST_FRACTION,
) -> Arrays:
    """Decode an image folder into ``(train_x, train_y, test_x, test_y, num_classes)``.

    Parameters
    ----------
    directory:
        ``DIR`` with one subfolder per class (sorted names give the labels 0, 1, ...), or
        with ``train`` and ``test`` subfolders that each hold the same class folders.
        Hidden files and files that are not images are skipped.
    image_size:
        Resize every image to ``image_size x image_size`` (bilinear, antialiased; the aspect
        ratio is not kept). Without it all images must have the same size.
    seed:
        Seed of the stratified train/test split of a folder without ``train``/``test``.
    test_fraction:
        Share of each class that goes to the test set in that case.

    Returns
    -------
    tuple
        ``uint8`` (N, C, H, W) images and ``int64`` labels; C is 1 when every image is
        grayscale, else 3 (everything converted to RGB).
    """
    if image_size is not None and (
        isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < MIN_SIZE
    ):
        raise ValueError(
            f"image_size={image_size!r} must be an int of at least {MIN_SIZE}: the networks "
            f"need at least {MIN_SIZE}x{MIN_SIZE} images; pass --image-size {MIN_SIZE} or more."
        )
    root = _check_folder(Path(directory))
    train_dir, test_dir = root / "train", root / "test"
    if train_dir.is_dir() != test_dir.is_dir():
        have, lack = (train_dir, test_dir) if train_dir.is_dir() else (test_dir, train_dir)
        raise ValueError(
            f"{root} has a {have.name} folder but no {lack.name} folder: add {lack} with the "
            f"same class folders, or put the class folders directly in {root} for a seeded split."
        )
    if train_dir.is_dir():
        train, test = _scan(train_dir), _scan(test_dir)
        if sorted(train) != sorted(test):
            raise ValueError(
                f"{train_dir} and {test_dir} hold different classes: train has {sorted(train)}, "
                f"test has {sorted(test)}; both need the same class folders."
            )
        paths, labels = _flatten(train)
        test_paths, test_labels = _flatten(test)
        x = _decode_all([*paths, *test_paths], image_size)
        n = len(paths)
        return x[:n], labels, x[n:], test_labels, len(train)
    classes = _scan(root)
    paths, labels = _flatten(classes)
    x = _decode_all(paths, image_size)
    train_idx, test_idx = _stratified_split(labels, test_fraction, seed)
    if len(test_idx) == 0:
        raise ValueError(
            f"{root} has too few images to hold out a test set: give each class at least 2 "
            "images, or provide train/ and test/ folders."
        )
    return x[train_idx], labels[train_idx], x[test_idx], labels[test_idx], len(classes)


def _check_folder(root: Path) -> Path:
    root = root.expanduser().resolve()
    if not root.exists():
        raise FileNotFoundError(
            f"image folder {root} does not exist; pass imagefolder:DIR with the folder that "
            "holds one subfolder of images per class."
        )
    if not root.is_dir():
        raise ValueError(
            f"{root} is a file, not a folder; pass imagefolder:DIR with the folder that holds "
            "one subfolder of images per class."
        )
    return root


def _scan(folder: Path) -> dict[str, list[Path]]:
    """Class name -> its image files (sorted, so the result does not depend on the file system)."""
    class_dirs = sorted(
        p for p in folder.iterdir()
        if p.is_dir() and not p.name.startswith(".") and p.name not in _NOT_CLASSES
    )  # fmt: skip
    if not class_dirs:
        loose = sum(1 for p in folder.iterdir() if _is_image(p.name))
        found = f" (it holds {loose} image file(s) directly)" if loose else ""
        raise ValueError(
            f"{folder} has no class folders{found}: put each class's images into its own "
            f"subfolder, {folder}/<class name>/."
        )
    classes = {d.name: _images_in(d) for d in class_dirs}
    for name, files in classes.items():
        if not files:
            raise ValueError(
                f"class folder {folder / name} has no images (looked for "
                f"{', '.join(IMAGE_EXTENSIONS)}); add images to it or remove it."
            )
    if len(classes) < 2:
        raise ValueError(
            f"{folder} has only one class folder ({class_dirs[0].name}); a classifier needs at "
            "least 2 classes, each in its own subfolder."
        )
    return classes


def _is_image(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def _images_in(class_dir: Path) -> list[Path]:
    found = []
    for here, dirs, files in os.walk(class_dir, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(here) / f for f in files if _is_image(f)]
    return sorted(found)


def _flatten(classes: dict[str, list[Path]]) -> tuple[list[Path], np.ndarray]:
    paths = [p for name in sorted(classes) for p in classes[name]]
    labels = [i for i, name in enumerate(sorted(classes)) for _ in classes[name]]
    return paths, np.asarray(labels, dtype=np.int64)


def _stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """Hold out ``fraction`` of each class, so a rare class is in both sets."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = min(max(int(round(fraction * len(idx))), 1), len(idx) - 1)
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


# -------------------------------------------------------------------------- decoding
def _decode_all(paths: list[Path], image_size: int | None) -> np.ndarray:
    """All images as one array; headers first, so mode and size errors come before decoding."""
    modes, sizes = [], []
    for path in paths:
        try:
            with Image.open(path) as image:
                modes.append(image.mode)
                sizes.append(image.size)
        except _READ_ERRORS as exc:
            raise _unreadable(path, exc) from None
    rgb = not all(is_grayscale(m) for m in modes)
    if image_size is None:
        _check_sizes(paths, sizes)
        w, h = sizes[0]
    else:
        w = h = image_size
    x = np.empty((len(paths), 3 if rgb else 1, h, w), dtype=np.uint8)
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as image:
                x[i] = pil_to_chw(image, rgb, image_size)
        except _READ_ERRORS as exc:
            raise _unreadable(path, exc) from None
    _logger.info("decoded %d images of %s", len(paths), x.shape[1:])
    return x


def _unreadable(path: Path, exc: BaseException) -> ValueError:
    return ValueError(f"cannot read image {path} ({exc}); replace or delete the file.")


def _check_sizes(paths: list[Path], sizes: list[tuple[int, int]]) -> None:
    first = sizes[0]
    for path, size in zip(paths, sizes, strict=True):
        if size != first:
            raise ValueError(
                f"images differ in size: {paths[0]} is {first[0]}x{first[1]}, {path} is "
                f"{size[0]}x{size[1]} (width x height); {_RESIZE_HINT}."
            )
    if min(first) < MIN_SIZE:
        raise ValueError(
            f"images are {first[0]}x{first[1]} (e.g. {paths[0]}); the networks need at least "
            f"{MIN_SIZE}x{MIN_SIZE}: pass --image-size N (CLI) or image_size=N (load_data) "
            f"with N >= {MIN_SIZE}."
        )


def is_grayscale(mode: str) -> bool:
    """Whether a Pillow mode holds one intensity channel (bilevel, 8/16/32-bit, float)."""
    return mode in ("1", "L", "LA", "La", "F") or mode.startswith("I")


def pil_to_chw(image: Image.Image, rgb: bool, size: int | None = None) -> np.ndarray:
    """A Pillow image as ``uint8`` (C, H, W): C = 3 if ``rgb`` else 1, resized to ``size``."""
    image = _to_8bit(image)
    if rgb:
        if image.mode == "P":  # palette transparency converts (without a warning) via RGBA
            image = image.convert("RGBA")
        if image.mode != "RGB":
            image = image.convert("RGB")
    elif image.mode != "L":
        image = image.convert("L")
    if size is not None and image.size != (size, size):
        # Pillow widens the bilinear kernel when it shrinks: that is the antialiasing.
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float grayscale scaled to 8 bits (Pillow's convert would clip)."""
    mode = image.mode
    if not (mode.startswith("I") or mode == "F"):
        return image
    values = np.asarray(image)
    if mode.startswith("I;16") or (mode == "I" and values.max(initial=0) > 255):
        values = np.clip(values, 0, 65535).astype(np.uint32) >> 8
    elif mode == "F":  # float images come as [0, 1] or as [0, 255]
        values = values * 255.0 if values.max(initial=0.0) <= 1.0 else values
        values = np.clip(np.round(values), 0, 255)
    return Image.fromarray(np.asarray(values, dtype=np.uint8))
