"""Which device each worker gets: GPUs spread over the workers, shared with --trials-per-gpu,
an existing CUDA_VISIBLE_DEVICES respected, and clear errors for what cannot be placed.

Pure logic: the GPUs are ids in, placements out, so every case runs on a CPU machine.
"""

from __future__ import annotations

from collections import Counter

import pytest

from optuna_nas.workers import (
    Placement,
    device_label,
    gpus_per_task,
    place_workers,
    visible_gpus,
)


# ---------------------------------------------------------------- the visible GPUs
@pytest.mark.parametrize(
    ("environ", "count", "expected"),
    [
        ({}, 0, []),
        ({}, 1, ["0"]),
        ({}, 4, ["0", "1", "2", "3"]),
        ({"CUDA_VISIBLE_DEVICES": "2,3"}, 2, ["2", "3"]),
        ({"CUDA_VISIBLE_DEVICES": " 3 , 1 "}, 2, ["3", "1"]),  # CUDA's order, not sorted
        ({"CUDA_VISIBLE_DEVICES": ""}, 0, []),  # hides every GPU
        ({"CUDA_VISIBLE_DEVICES": "-1"}, 0, []),
        ({"CUDA_VISIBLE_DEVICES": "0,-1,1"}, 1, ["0"]),  # CUDA stops at the first invalid id
        ({"CUDA_VISIBLE_DEVICES": "0,1,7"}, 2, ["0", "1"]),  # GPU 7 does not exist: counted 2
        ({"CUDA_VISIBLE_DEVICES": "GPU-8f2c,GPU-11ab"}, 2, ["GPU-8f2c", "GPU-11ab"]),
        ({"CUDA_VISIBLE_DEVICES": "MIG-5d3e"}, 1, ["MIG-5d3e"]),
        ({"CUDA_VISIBLE_DEVICES": "0,1"}, 0, []),  # no driver: nothing, whatever the variable
    ],
)
def test_the_visible_gpus_respect_cuda_visible_devices(environ, count, expected):
    assert visible_gpus(environ, count) == expected


# ---------------------------------------------------------------- placing workers
@pytest.mark.parametrize("device", ["auto", "cpu"])
@pytest.mark.parametrize("n_workers", [1, 2, 7])
def test_without_gpus_every_worker_stays_on_the_cpu(device, n_workers):
    placements = place_workers(n_workers, [], device=device)
    assert placements == [Placement()] * n_workers
    assert {p.device for p in placements} == {"cpu"}
    assert all(p.environ() == {} for p in placements)  # a CPU worker's environment is untouched


def test_device_cpu_keeps_the_workers_off_the_gpus_there_are():
    assert place_workers(3, ["0", "1"], device="cpu") == [Placement()] * 3


@pytest.mark.parametrize(
    ("n_workers", "gpus", "expected"),
    [
        (1, ["0"], ["0"]),
        (2, ["0", "1"], ["0", "1"]),
        (3, ["0", "1", "2", "3"], ["0", "1", "2"]),  # spread, one GPU left idle
        (4, ["0", "1"], ["0", "1", "0", "1"]),  # without --trials-per-gpu: shared evenly
        (5, ["0", "1"], ["0", "1", "0", "1", "0"]),
        (3, ["5", "7"], ["5", "7", "5"]),  # the ids CUDA_VISIBLE_DEVICES named
    ],
)
def test_workers_are_spread_over_the_gpus_round_robin(n_workers, gpus, expected):
    placements = place_workers(n_workers, gpus)
    assert [p.gpu for p in placements] == expected
    assert [p.index for p in placements] == [gpus.index(g) for g in expected]


def test_each_worker_sees_only_its_gpu_and_the_first_trains_on_its_index():
    parent, child = place_workers(2, ["2", "3"])
    # The caller's CUDA is already initialised: it trains on its index among what it sees...
    assert parent.device == "cuda:0" and parent.environ() == {"CUDA_VISIBLE_DEVICES": "2"}
    # ... while a child process gets only its GPU, which it sees as cuda:0.
    assert child.device == "cuda:1" and child.environ() == {"CUDA_VISIBLE_DEVICES": "3"}


@pytest.mark.parametrize(
    ("n_workers", "n_gpus", "per_gpu"),
    [(1, 1, 1), (4, 1, 4), (8, 2, 4), (6, 4, 2), (3, 2, 2), (64, 1, 64), (5, 8, 3)],
)
def test_trials_per_gpu_packs_at_most_that_many_workers_on_one_gpu(n_workers, n_gpus, per_gpu):
    gpus = [str(i) for i in range(n_gpus)]
    placements = place_workers(n_workers, gpus, trials_per_gpu=per_gpu)
    load = Counter(p.gpu for p in placements)
    assert len(placements) == n_workers
    assert max(load.values()) <= per_gpu
    assert max(load.values()) - min(load.values()) <= 1  # and as even as it gets
    assert len(load) == min(n_workers, n_gpus)  # no GPU idle while another holds two


@pytest.mark.parametrize(
    ("n_workers", "n_gpus", "per_gpu", "fix"),
    [
        (2, 1, 1, "use --trials-per-gpu 2 or --workers 1"),
        (5, 2, 2, "use --trials-per-gpu 3 or --workers 4"),
        (9, 4, 2, "use --trials-per-gpu 3 or --workers 8"),
    ],
)
def test_more_workers_than_the_gpus_hold_is_an_error_naming_the_fix(
    n_workers, n_gpus, per_gpu, fix
):
    gpus = [str(i) for i in range(n_gpus)]
    with pytest.raises(
        ValueError, match=f"--workers {n_workers} do not fit on {n_gpus} GPU"
    ) as err:
        place_workers(n_workers, gpus, trials_per_gpu=per_gpu)
    assert fix in str(err.value)


@pytest.mark.parametrize(
    ("environ", "names"),
    [({}, "no GPU is visible here;"),
     ({"CUDA_VISIBLE_DEVICES": ""}, "no GPU is visible here (CUDA_VISIBLE_DEVICES='')")],
)  # fmt: skip
def test_trials_per_gpu_without_a_gpu_is_refused(monkeypatch, environ, names):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match="--trials-per-gpu 2 needs GPUs") as err:
        place_workers(3, [], trials_per_gpu=2)
    assert names in str(err.value)
    assert "drop --trials-per-gpu to run the 3 worker(s) on the CPU" in str(err.value)


def test_trials_per_gpu_with_device_cpu_is_refused():
    with pytest.raises(ValueError, match="needs GPUs, but --device cpu"):
        place_workers(2, ["0"], trials_per_gpu=2, device="cpu")


def test_device_cuda_without_a_gpu_is_refused():
    with pytest.raises(ValueError, match="--device cuda, but no GPU is visible"):
        place_workers(1, [], device="cuda")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_workers": 0, "gpus": []}, "--workers must be >= 1"),
        ({"n_workers": 1, "gpus": ["0"], "trials_per_gpu": 0}, r"--trials-per-gpu must be in \[1, 64\]"),
        ({"n_workers": 1, "gpus": ["0"], "trials_per_gpu": 65}, r"--trials-per-gpu must be in \[1, 64\]"),
        ({"n_workers": 1, "gpus": [], "device": "tpu"}, "device must be auto, cuda or cpu"),
    ],
)  # fmt: skip
def test_out_of_range_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        place_workers(**kwargs)


# ---------------------------------------------------------------- cluster tasks
@pytest.mark.parametrize(
    ("cluster_gpus", "per_gpu", "expected"),
    [(0, None, 0.0), (8, None, 1.0), (1, None, 1.0), (2, 4, 0.25), (4, 2, 0.5), (1, 64, 1 / 64)],
)
def test_a_cluster_task_asks_for_one_gpu_or_its_share(cluster_gpus, per_gpu, expected):
    assert gpus_per_task(cluster_gpus, per_gpu) == pytest.approx(expected)


def test_a_cluster_without_gpus_refuses_trials_per_gpu():
    with pytest.raises(ValueError, match="--trials-per-gpu 2 needs GPUs, but the cluster has none"):
        gpus_per_task(0, 2)
    with pytest.raises(ValueError, match=r"must be in \[1, 64\]"):
        gpus_per_task(4, 0)


# ---------------------------------------------------------------- what a trial records
@pytest.mark.parametrize(
    ("device", "environ", "label"),
    [
        ("cpu", {}, "cpu"),
        ("cpu", {"CUDA_VISIBLE_DEVICES": "3"}, "cpu"),
        ("mps", {}, "mps"),
        ("cuda", {}, "cuda:0"),
        ("cuda:1", {}, "cuda:1"),
        ("cuda:0", {"CUDA_VISIBLE_DEVICES": "3"}, "cuda:3"),  # a child worker on GPU 3
        ("cuda:1", {"CUDA_VISIBLE_DEVICES": "2,5"}, "cuda:5"),
        ("cuda", {"CUDA_VISIBLE_DEVICES": "GPU-8f2c"}, "cuda:GPU-8f2c"),
        ("cuda:2", {"CUDA_VISIBLE_DEVICES": "4"}, "cuda:2"),  # not in the list: torch's index
    ],
)
def test_the_device_label_names_the_gpu_as_its_machine_numbers_it(device, environ, label):
    assert device_label(device, environ) == label


def test_every_placement_labels_its_trials_with_its_own_gpu():
    # What a child worker records: it sees its one GPU as cuda:0, through the variable.
    for placement in place_workers(4, ["1", "2"], trials_per_gpu=2):
        assert device_label("cuda:0", placement.environ()) == f"cuda:{placement.gpu}"
        # the caller, which keeps its environment, trains on cuda:<index> and records the same
        assert device_label(placement.device, {"CUDA_VISIBLE_DEVICES": "1,2"}) == (
            f"cuda:{placement.gpu}"
        )
