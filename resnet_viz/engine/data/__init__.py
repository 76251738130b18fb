"""Datasets: offline ones that always work (digits, shapes, clutter) and downloadable ones.

`dataset` holds the :class:`Dataset` container and the finishing steps every loader shares,
`offline` and `downloads` the loaders, `registry` the list the app offers and `load_dataset`,
`augment` the batched augmentation, `shapes` the shape generator, `images` uploaded photos.
"""

from .augment import augment_batch
from .dataset import DATA_ENV, Dataset, DatasetInfo, DatasetUnavailable, default_data_root
from .downloads import DOWNLOAD_TIMEOUT_S
from .offline import (
    CLUTTER_N_TEST,
    CLUTTER_N_TRAIN,
    SHAPES_N_TEST,
    SHAPES_N_TRAIN,
    load_clutter,
    load_digits,
    load_shapes,
)
from .registry import DATASETS, WEB_DATASETS, load_dataset
from .shapes import SHAPE_CLASSES, make_cluttered_shapes, make_shapes

__all__ = [
    "CLUTTER_N_TEST",
    "CLUTTER_N_TRAIN",
    "DATASETS",
    "DATA_ENV",
    "DOWNLOAD_TIMEOUT_S",
    "SHAPES_N_TEST",
    "SHAPES_N_TRAIN",
    "SHAPE_CLASSES",
    "WEB_DATASETS",
    "Dataset",
    "DatasetInfo",
    "DatasetUnavailable",
    "augment_batch",
    "default_data_root",
    "load_clutter",
    "load_dataset",
    "load_digits",
    "load_shapes",
    "make_cluttered_shapes",
    "make_shapes",
]
