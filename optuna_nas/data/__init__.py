"""Data: registered datasets and image folders, held as tensors on the training device."""

from optuna_nas.data._augment import augment
from optuna_nas.data._datasets import ImageData, dataset_names, load_data, register_dataset
from optuna_nas.data._imagefolder import imagefolder_path
from optuna_nas.data._register import register_arrays, register_torch_dataset

__all__ = [
    "ImageData",
    "augment",
    "dataset_names",
    "imagefolder_path",
    "load_data",
    "register_arrays",
    "register_dataset",
    "register_torch_dataset",
]
