"""The front-vs-baselines benchmark: comparison and report from hand-made rows, the
baseline networks, and a tiny real run on the synthetic dataset."""

from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
import torch

import benchmarks.baselines as baselines
from benchmarks.fashion_mnist_front import Row, compare, main, module_cost, spread, write_report

PNG = b"\x89PNG\r\n\x1a\n"
FRONT = [
    Row("trial 1", 10_000, 1_000_000, 0.1, 0.85, 5.0),
    Row("trial 2", 50_000, 5_000_000, 0.2, 0.90, 9.0),
    Row("trial 3", 200_000, 20_000_000, 0.4, 0.93, 20.0),
]


def _baseline(name, params, accuracy):
    return Row(name, params, 2_000_000, 0.3, accuracy, 10.0)


def test_compare_names_the_smallest_winner_or_the_best_member_within_the_params():
    lines = compare(FRONT, [
        _baseline("mid", 60_000, 0.89),  # trial 2 (0.90) beats it; trial 1 (0.85) does not
        _baseline("tie", 50_000, 0.90),  # same params and accuracy: beaten
        _baseline("big", 300_000, 0.95),  # nobody reaches 95 %
        _baseline("tiny", 5_000, 0.50),  # no member is that small
    ])  # fmt: skip
    assert lines == [
        "- **mid** (60,000 params, 89.00 %): beaten by trial 2: 50,000 params, 90.00 % vs 89.00 %",
        "- **tie** (50,000 params, 90.00 %): beaten by trial 2: 50,000 params, 90.00 % vs 90.00 %",
        "- **big** (300,000 params, 95.00 %): not beaten: best front member with ≤ its params "
        "reaches 93.00 % (trial 3, 200,000 params)",
        "- **tiny** (5,000 params, 50.00 %): not beaten: no front member has ≤ its params",
    ]


def test_compare_prefers_the_smallest_of_several_winners():
    [line] = compare(FRONT, [_baseline("weak", 500_000, 0.80)])
    assert "beaten by trial 1: 10,000 params" in line


def test_write_report_writes_the_table_the_comparison_and_a_png(tmp_path):
    base = [_baseline("lenet5", 61_706, 0.89)]
    md, png = write_report(str(tmp_path / "r.md"), ["- command: `x`"], FRONT, base, ["a note"])
    text = Path(md).read_text()
    assert "- command: `x`" in text and "a note" in text
    assert "beaten by trial 2" in text
    assert "| trial 2 (front) | 50,000 | 5.00 | 0.20 | 90.00 | 9 |" in text
    assert "| lenet5 (baseline) | 61,706 | 2.00 | 0.30 | 89.00 | 10 |" in text
    assert text.rstrip().endswith("![test error vs params](r.png)")
    assert png == str(tmp_path / "r.png")
    assert Path(png).read_bytes()[:8] == PNG


def test_spread_keeps_both_ends_evenly_in_log_params_and_one_trial_per_architecture():
    def trial(params, fingerprint):
        return SimpleNamespace(values=[1 / params, params], user_attrs={"fingerprint": fingerprint})

    trials = [trial(p, f"a{p}") for p in (10, 20, 30, 40, 50, 60, 70)] + [trial(10, "a10")]
    chosen = spread(trials, 3)  # log-even targets 10, 26.5, 70 (by rank it would be 40)
    assert [t.values[1] for t in chosen] == [10, 30, 70]
    assert len(spread(trials, 0)) == len(spread(trials, 9)) == 7


@pytest.mark.parametrize("name", sorted(baselines.BASELINES))
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_baselines_build_run_and_have_the_stated_size(name, shape):
    torch.manual_seed(0)
    model = baselines.BASELINES[name](shape[0], 10)
    params, flops = module_cost(model, shape)
    assert 20_000 <= params <= 500_000 and flops > 0
    if shape == (1, 28, 28):  # the table of the module docstring
        assert f"| {name} | {params:,} |" in baselines.__doc__
    model.train()
    out = model(torch.randn(2, *shape))
    assert out.shape == (2, 10)
    out.sum().backward()


@pytest.mark.slow
def test_a_tiny_run_searches_retrains_trains_the_baselines_and_reports(tmp_path):
    argv = [
        "--dataset", "synthetic", "--search-budget", "3", "--channels", "4", "--cells", "1",
        "--epochs", "1", "--train-size", "200", "--val-size", "100", "--n-initial", "2",
        "--final-epochs", "1", "--final-train-size", "200", "--baselines", "lenet5,resnet20-8",
        "--workers", "2", "--threads", "1", "--out", str(tmp_path / "front.md"),
        "--out-dir", str(tmp_path / "run"),
    ]  # fmt: skip
    md, png = main(argv)
    text = Path(md).read_text()
    assert "--dataset synthetic" in text and "--final-epochs 1" in text
    assert "final trainings on 300 (train + validation), scored on all 600 test images" in text
    assert "**lenet5**" in text and "**resnet20-8**" in text
    assert "(front) |" in text and "| lenet5 (baseline) |" in text
    assert Path(png).read_bytes()[:8] == PNG
    storage = f"sqlite:///{tmp_path / 'run' / 'study.db'}"
    final = optuna.load_study(study_name="front:final", storage=storage)
    records = final.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert records and all(t.user_attrs["epochs"] == 1 for t in records)
    # Run again in the same --out-dir: nothing is searched or trained again.
    search = optuna.load_study(study_name="front", storage=storage)
    n_trials = len(search.trials)
    md, _ = main(argv)
    assert len(optuna.load_study(study_name="front", storage=storage).trials) == n_trials
    assert len(optuna.load_study(study_name="front:final", storage=storage).trials) == len(
        final.trials
    )
    assert "Resumed from a stopped run" in Path(md).read_text()
    # ... and other search settings or another final recipe are refused, naming them.
    with pytest.raises(SystemExit, match=r"--epochs 1 \(now 2\)"):
        main([*argv, "--epochs", "2"])
    with pytest.raises(SystemExit, match="--final-epochs 1 to resume"):
        main([*argv, "--final-epochs", "2"])
