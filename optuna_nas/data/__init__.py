"""Data: registered datasets held as tensors on the training device."""

from optuna_nas.data._augment import augment
from optuna_nas.data._datasets import ImageData, dataset_names, load_data, register_dataset

__all__ = ["ImageData", "augment", "dataset_names", "load_data", "register_dataset"]
