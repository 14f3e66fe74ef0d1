"""Small generated image folders in torchvision's ImageFolder layout, for the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = [(220, 40, 40), (40, 200, 60), (50, 70, 230), (230, 210, 40), (200, 60, 220)]


def class_image(c: int, rng: np.random.Generator, size: int, gray: bool) -> np.ndarray:
    """Class ``c``: its own colour (or intensity) and stripe period, plus noise: learnable."""
    period = 2 + c
    stripes = (np.arange(size) // period % 2).astype(np.float32)
    pattern = stripes[:, None] if c % 2 else stripes[None, :]
    pattern = np.broadcast_to(pattern, (size, size))
    if gray:
        base = 40 + 45 * c + 60 * pattern
    else:
        base = np.asarray(COLOURS[c % len(COLOURS)], np.float32) * (0.6 + 0.4 * pattern[..., None])
    noisy = base + rng.normal(scale=12, size=base.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def write_class(folder: Path, c: int, n: int, *, size: int = 16, gray: bool = False,
                seed: int = 0, start: int = 0, ext: str = "png") -> list[Path]:  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, c, start])
    paths = []
    for i in range(start, start + n):
        path = folder / f"img{i:03d}.{ext}"
        Image.fromarray(class_image(c, rng, size, gray)).save(path)
        paths.append(path)
    return paths


def make_imagefolder(
    root: Path,
    *,
    classes: int = 3,
    per_class: int = 10,
    size: int = 16,
    gray: bool = False,
    layout: str = "flat",
    test_per_class: int = 4,
) -> Path:
    """``root/<class>/`` (layout ``flat``) or ``root/{train,test}/<class>/`` (``split``)."""
    names = [f"class_{chr(ord('a') + c)}" for c in range(classes)]
    for c, name in enumerate(names):
        if layout == "flat":
            write_class(root / name, c, per_class, size=size, gray=gray)
        else:
            write_class(root / "train" / name, c, per_class, size=size, gray=gray)
            write_class(root / "test" / name, c, test_per_class, size=size, gray=gray, start=500)
    return root
