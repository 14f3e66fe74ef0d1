"""A small multi-objective architecture search in plain Optuna (error vs parameters).

The README's quick start in Python: LEMONADE on 20,000 Fashion-MNIST images, then
the front trained from scratch with the final recipe. Kill it and run it again: it
resumes (the killed trial is retried once its heartbeat is stale).

Run: python examples/search_fashion_mnist.py
Then: optuna-nas dashboard --storage sqlite:///example.db --artifact-dir artifacts
"""

import optuna
import torch

import optuna_nas

torch.set_num_threads(2)
optuna.logging.set_verbosity(optuna.logging.WARNING)  # optuna_nas.TrialLog prints instead

space = optuna_nas.NB201Space(channels=(8, 16), cells=1)
data = optuna_nas.load_data("fashion-mnist", train_size=20_000, val_size=5_000)
objective = optuna_nas.NASObjective(
    space, data, ["error", "params"], optuna_nas.TrainConfig(epochs=2, batch_size=64)
)
study = optuna_nas.create_study(
    ["error", "params"],
    storage="sqlite:///example.db",
    study_name="fashion-mnist-example",
    # Any Optuna sampler searches the space: try optuna.samplers.TPESampler().
    sampler=optuna_nas.LemonadeSampler(space, n_initial=4, seed=0),
)
# Up to 16 finished trials in all, so a rerun after a kill only does what is missing.
done = optuna.study.MaxTrialsCallback(16, states=(optuna.trial.TrialState.COMPLETE,))
study.optimize(objective, n_trials=16, callbacks=[done, optuna_nas.TrialLog()])


def progress(trial_number: int, epoch: int, accuracy: float) -> None:
    print(f"retrain trial {trial_number}: epoch {epoch + 1} test acc {accuracy:.4f}", flush=True)


# The front trained from scratch with the final recipe (4x the epochs, train + val data).
final = optuna_nas.retrain(study, on_epoch=progress)
for trial in sorted(final, key=lambda t: t.values[1]):
    print(
        f"trial {trial.user_attrs['source_trial']}: test acc {trial.user_attrs['test_accuracy']:.4f}, "
        f"{trial.user_attrs['params']} params, {trial.user_attrs['arch_str']}"
    )
