"""The trial record every writer shares, and the lineage it carries."""

from optuna.trial import create_trial

from optuna_nas import Architecture, NB201Space
from optuna_nas.storage import keys


def test_the_architecture_record_names_the_network_and_how_it_was_measured():
    arch = NB201Space().sample(0)
    record = keys.architecture_record(arch, keys.SUPERNET)
    assert list(record) == [keys.ARCH_JSON, keys.ARCH_STR, keys.FINGERPRINT, keys.FIDELITY]
    assert Architecture.from_json(record[keys.ARCH_JSON]) == arch
    assert record[keys.FINGERPRINT] == arch.fingerprint and record[keys.FIDELITY] == "supernet"


def test_lineage_epochs_fall_back_to_the_trials_own_epochs():
    def trial(**attrs):
        return create_trial(value=0.0, user_attrs=attrs)

    assert keys.lineage_epochs(trial(epochs=3, lineage_epochs=9)) == 9
    assert keys.lineage_epochs(trial(epochs=3)) == 3
    assert keys.lineage_epochs(trial()) == 0
