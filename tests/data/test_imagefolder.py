"""``load_data("imagefolder:DIR")``: layouts, channels, resizing, the split and every bad folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from optuna_nas.data import load_data
from tests.data.imagefolders import make_imagefolder, write_class


def _chw(path) -> np.ndarray:
    array = np.asarray(Image.open(path))
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def test_flat_folder_is_split_per_class_and_named_by_its_absolute_path(tmp_path):
    root = make_imagefolder(tmp_path / "imgs", classes=3, per_class=10)
    data = load_data(f"imagefolder:{root}", val_size=0.25)
    assert data.name == f"imagefolder:{root.resolve()}"
    assert data.input_shape == (3, 16, 16) and data.num_classes == 3
    assert data.train_x.dtype == torch.uint8 and data.test_y.dtype == torch.int64
    # A stratified 20 % of each class is the test set; validation comes out of the rest.
    assert data.test_y.bincount().tolist() == [2, 2, 2]
    assert (len(data.train_y), len(data.val_y)) == (18, 6)
    # Every image is a file's pixels, unchanged, and no image is in two sets.
    files = {_chw(p).tobytes() for p in sorted(root.rglob("*.png"))}
    seen = [x.numpy().tobytes() for x in (*data.train_x, *data.val_x, *data.test_x)]
    assert set(seen) == files and len(seen) == len(files) == 30


def test_the_split_is_fixed_by_the_seed(tmp_path):
    root = make_imagefolder(tmp_path / "imgs", classes=3, per_class=10)
    a, b = (load_data(f"imagefolder:{root}", val_size=3, seed=7) for _ in range(2))
    c = load_data(f"imagefolder:{root}", val_size=3, seed=8)
    assert torch.equal(a.test_x, b.test_x) and torch.equal(a.val_x, b.val_x)
    assert torch.equal(a.train_y, b.train_y)
    assert not torch.equal(a.test_x, c.test_x)


def test_a_relative_folder_is_named_absolute(tmp_path, monkeypatch):
    make_imagefolder(tmp_path / "imgs", classes=2, per_class=5)
    monkeypatch.chdir(tmp_path)
    data = load_data("imagefolder:imgs/", val_size=2)
    assert data.name == f"imagefolder:{(tmp_path / 'imgs').resolve()}"


def test_train_and_test_folders_are_used_as_given(tmp_path):
    root = make_imagefolder(tmp_path / "imgs", classes=3, per_class=8, layout="split")
    data = load_data(f"imagefolder:{root}", val_size=4)
    assert len(data.test_y) == 12 and len(data.train_y) + len(data.val_y) == 24
    assert data.test_y.tolist() == [0] * 4 + [1] * 4 + [2] * 4  # class order, then file order
    first = root / "test" / "class_a" / "img500.png"
    assert np.array_equal(data.test_x[0].numpy(), _chw(first))


def test_grayscale_folder_gives_one_channel(tmp_path):
    root = make_imagefolder(tmp_path / "imgs", classes=2, per_class=5, gray=True)
    data = load_data(f"imagefolder:{root}", val_size=2)
    assert data.input_shape == (1, 16, 16) and len(data.mean) == 1
    first = root / "class_a" / "img000.png"
    files = {x.numpy().tobytes() for x in (*data.train_x, *data.val_x, *data.test_x)}
    assert _chw(first).tobytes() in files


def test_a_colour_image_among_grayscale_makes_everything_rgb(tmp_path):
    root = make_imagefolder(tmp_path / "imgs", classes=2, per_class=5, gray=True)
    write_class(root / "class_b", 1, 1, start=100)  # one RGB image
    data = load_data(f"imagefolder:{root}", val_size=2)
    assert data.input_shape == (3, 16, 16)
    x = torch.cat([data.train_x, data.val_x, data.test_x])
    gray = (x[:, 0] == x[:, 1]).all(dim=(1, 2)) & (x[:, 1] == x[:, 2]).all(dim=(1, 2))
    assert int(gray.sum()) == 10  # the grayscale images repeat their channel


def test_16_bit_palette_and_alpha_images_are_read(tmp_path):
    root = tmp_path / "imgs"
    (root / "deep").mkdir(parents=True)
    (root / "flat").mkdir()
    for i in range(3):  # 16-bit grayscale: the top 8 bits are kept
        Image.fromarray(np.full((8, 8), 256 * (100 + i), np.uint16)).save(root / f"deep/{i}.png")
        Image.fromarray(np.full((8, 8), 60 + i, np.uint8)).save(root / f"flat/{i}.png")
    gray = load_data(f"imagefolder:{root}", val_size=1, seed=1)
    assert gray.input_shape == (1, 8, 8)
    values = {int(v) for x in (gray.train_x, gray.val_x, gray.test_x) for v in x.flatten()}
    assert {100, 101, 102} <= values and values <= {100, 101, 102, 60, 61, 62}
    # A palette and an RGBA image turn the folder to RGB.
    Image.new("P", (8, 8), 3).save(root / "flat" / "p.png")
    Image.new("RGBA", (8, 8), (10, 20, 30, 128)).save(root / "flat" / "a.png")
    rgb = load_data(f"imagefolder:{root}", val_size=1)
    assert rgb.input_shape == (3, 8, 8)


def test_image_size_resizes_images_of_any_size(tmp_path):
    root = tmp_path / "imgs"
    write_class(root / "small", 0, 4, size=16)
    write_class(root / "large", 1, 4, size=40)
    Image.new("RGB", (30, 20), (200, 10, 10)).save(root / "large" / "wide.jpg")
    data = load_data(f"imagefolder:{root}", val_size=2, image_size=12)
    assert data.input_shape == (3, 12, 12) and len(data.train_y) + len(data.val_y) == 7
    up = load_data(f"imagefolder:{root}", val_size=2, image_size=48)
    assert up.input_shape == (3, 48, 48)
    # Antialiased: a shrunk uniform image stays uniform (no aliasing or ringing).
    red = [x for x in (*data.train_x, *data.val_x, *data.test_x) if int(x[0].min()) == 200]
    assert len(red) == 1 and int(red[0][1].max()) == 10


def test_hidden_and_non_image_files_are_skipped(tmp_path):
    root = make_imagefolder(tmp_path / "imgs", classes=2, per_class=5)
    for folder in (root, root / "class_a"):
        (folder / ".DS_Store").write_bytes(b"\0\1junk")
        (folder / "README.txt").write_text("about these images")
        (folder / ".hidden.png").write_bytes(b"not a png")
    (root / ".ipynb_checkpoints").mkdir()
    (root / "__MACOSX" / "class_a").mkdir(parents=True)
    (root / "__MACOSX" / "class_a" / "._img000.png").write_bytes(b"resource fork")
    write_class(root / "class_b" / "nested", 1, 2, start=50)  # subfolders belong to the class
    data = load_data(f"imagefolder:{root}", val_size=2)
    assert data.num_classes == 2 and len(data.train_y) + len(data.val_y) + len(data.test_y) == 12


# ------------------------------------------------------------------ bad folders
def _error(tmp_path, name, kind=ValueError, **kwargs) -> str:
    with pytest.raises(kind) as info:
        load_data(f"imagefolder:{name}", val_size=1, **kwargs)
    return str(info.value)


def test_a_missing_folder(tmp_path):
    message = _error(tmp_path, tmp_path / "nowhere", FileNotFoundError)
    assert str(tmp_path / "nowhere") in message and "does not exist" in message


def test_a_file_instead_of_a_folder(tmp_path):
    (tmp_path / "photo.png").write_bytes(b"x")
    message = _error(tmp_path, tmp_path / "photo.png")
    assert "photo.png is a file, not a folder" in message


def test_an_empty_name():
    with pytest.raises(ValueError, match="imagefolder:DIR"):
        load_data("imagefolder:")


def test_no_class_folders(tmp_path):
    root = tmp_path / "imgs"
    root.mkdir()
    Image.new("RGB", (16, 16)).save(root / "a.png")
    message = _error(tmp_path, root)
    assert f"{root} has no class folders" in message and "1 image file(s) directly" in message
    assert "<class name>" in message


def test_an_empty_class_folder_is_named(tmp_path):
    root = make_imagefolder(tmp_path / "imgs", classes=2, per_class=5)
    (root / "cats").mkdir()
    (root / "cats" / "notes.txt").write_text("no images here")
    message = _error(tmp_path, root)
    assert f"class folder {root / 'cats'} has no images" in message


def test_a_single_class(tmp_path):
    root = make_imagefolder(tmp_path / "imgs", classes=1, per_class=5)
    message = _error(tmp_path, root)
    assert "only one class folder (class_a)" in message and "at least 2 classes" in message


@pytest.mark.parametrize("content", ["garbage", "truncated"])
def test_a_corrupt_image_is_named(tmp_path, content):
    root = make_imagefolder(tmp_path / "imgs", classes=2, per_class=3, size=64)
    good = (root / "class_a" / "img000.png").read_bytes()
    bad = b"this is not an image" if content == "garbage" else good[: len(good) // 2]
    (root / "class_b" / "broken.png").write_bytes(bad)
    message = _error(tmp_path, root)
    assert f"cannot read image {root / 'class_b' / 'broken.png'}" in message
    assert "replace or delete the file" in message


def test_mixed_sizes_without_image_size_name_two_files(tmp_path):
    root = make_imagefolder(tmp_path / "imgs", classes=2, per_class=3, size=16)
    write_class(root / "class_b", 1, 1, size=20, start=9)
    message = _error(tmp_path, root)
    assert f"{root / 'class_a' / 'img000.png'} is 16x16" in message
    assert f"{root / 'class_b' / 'img009.png'} is 20x20" in message
    assert "--image-size N" in message and "image_size=N" in message


def test_train_and_test_with_different_classes(tmp_path):
    root = make_imagefolder(tmp_path / "imgs", classes=3, per_class=3, layout="split")
    (root / "test" / "class_c").rename(root / "test" / "class_z")
    message = _error(tmp_path, root)
    assert "['class_a', 'class_b', 'class_c']" in message
    assert "['class_a', 'class_b', 'class_z']" in message
    assert str(root / "train") in message and str(root / "test") in message


def test_a_train_folder_without_a_test_folder(tmp_path):
    root = make_imagefolder(tmp_path / "imgs", classes=2, per_class=3, layout="split")
    (root / "test").rename(root / "val")
    message = _error(tmp_path, root)
    assert f"has a train folder but no test folder: add {root / 'test'}" in message


@pytest.mark.parametrize("size", [4, 0, -1, 12.5])
def test_image_size_below_8(tmp_path, size):
    root = make_imagefolder(tmp_path / "imgs", classes=2, per_class=3)
    message = _error(tmp_path, root, image_size=size)
    assert f"image_size={size}" in message and "at least 8x8" in message


def test_tiny_images_need_image_size(tmp_path):
    root = make_imagefolder(tmp_path / "imgs", classes=2, per_class=3, size=4)
    message = _error(tmp_path, root)
    assert "images are 4x4" in message and "--image-size N" in message
    assert load_data(f"imagefolder:{root}", val_size=1, image_size=8).input_shape == (3, 8, 8)


def test_image_size_is_refused_for_a_named_dataset():
    with pytest.raises(ValueError, match=r"image_size=16 \(--image-size\).*'synthetic'"):
        load_data("synthetic", image_size=16)


def test_one_image_per_class_leaves_no_test_set(tmp_path):
    root = make_imagefolder(tmp_path / "imgs", classes=2, per_class=1)
    message = _error(tmp_path, root)
    assert f"{root} has too few images" in message and "at least 2 images" in message
