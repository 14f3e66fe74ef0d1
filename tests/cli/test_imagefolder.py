"""``optuna-nas search --dataset imagefolder:DIR``: a real search on generated images."""

from __future__ import annotations

import subprocess
import sys

import optuna
import pytest

from tests.data.imagefolders import make_imagefolder, write_class

SEARCH = ["search", "--channels", "4", "--cells", "1", "--epochs", "1", "--batch-size", "32",
          "--val-size", "0.2", "--n-trials", "2", "--sampler", "random", "--threads", "1",
          "--no-progress"]  # fmt: skip


def _cli(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "optuna_nas.cli", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    ("layout", "gray", "shape"), [("flat", False, [3, 16, 16]), ("split", True, [1, 16, 16])]
)
def test_search_on_an_image_folder(tmp_path, layout, gray, shape):
    # 20x20 images, so --image-size 16 resizes them.
    root = make_imagefolder(tmp_path / "my images", classes=4, per_class=40, size=20,
                            gray=gray, layout=layout, test_per_class=8)  # fmt: skip
    done = _cli(tmp_path, *SEARCH, "--dataset", f"imagefolder:{root}", "--image-size", "16")
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "Pareto front" in done.stdout
    storage = f"sqlite:///{tmp_path}/optuna_nas.db"
    (name,) = optuna.get_all_study_names(storage)
    study = optuna.load_study(study_name=name, storage=storage)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 2
    assert study.user_attrs["nas:input_shape"] == shape
    assert study.user_attrs["nas:num_classes"] == 4
    assert study.user_attrs["nas:dataset"] == f"imagefolder:{root.resolve()}"


@pytest.mark.parametrize("case", ["missing", "mixed sizes"])
def test_a_bad_image_folder_exits_2_with_the_message(tmp_path, case):
    root = tmp_path / "imgs"
    if case == "mixed sizes":
        make_imagefolder(root, classes=2, per_class=3, size=16)
        write_class(root / "class_b", 1, 1, size=24, start=7)
    done = _cli(tmp_path, *SEARCH, "--dataset", f"imagefolder:{root}")
    assert done.returncode == 2, f"{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("optuna-nas search: error: ")
    if case == "missing":
        assert f"image folder {root} does not exist" in done.stderr
    else:
        assert f"{root / 'class_b' / 'img007.png'} is 24x24" in done.stderr
        assert "pass --image-size N" in done.stderr
