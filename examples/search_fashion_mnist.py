"""A small multi-objective architecture search in plain Optuna (error vs parameters).

Run: python examples/search_fashion_mnist.py
Then: optuna-dashboard sqlite:///example.db --artifact-dir artifacts
"""

import optuna
import torch

import optuna_nas

torch.set_num_threads(2)

space = optuna_nas.NB201Space(channels=8, cells=1)
data = optuna_nas.load_data("fashion-mnist", train_size=12_000, val_size=2_000, test_size=2_000)
objective = optuna_nas.NASObjective(
    space,
    data,
    objectives=["error", "params"],
    train_config=optuna_nas.TrainConfig(epochs=4, batch_size=128),
)
study = optuna_nas.create_study(
    ["error", "params"],
    storage="sqlite:///example.db",
    study_name="fashion-mnist-example",
    # Any Optuna sampler searches the space: try TPESampler or RandomSampler.
    sampler=optuna.samplers.NSGAIISampler(population_size=8, seed=0),
)
study.optimize(objective, n_trials=16)

for trial in sorted(study.best_trials, key=lambda t: t.values[0]):
    error, params = trial.values
    print(
        f"trial {trial.number}: error {error:.3f}, {params:.0f} params, {trial.user_attrs['arch_str']}"
    )
