"""The registry of datasets the app and the CLI offer, and `load_dataset`, the one way in."""

from __future__ import annotations

from resnet_viz.engine.config import ConfigError, DataConfig
from resnet_viz.i18n import N_, _

from .dataset import Dataset, DatasetInfo
from .downloads import load_folder, torchvision_loader
from .offline import load_clutter, load_digits, load_shapes

# --------------------------------------------------------------------------------------------
# Registry

DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "digits",
            N_("Digits (8x8, scikit-learn)"),
            N_("1,797 real handwritten digits at 8x8 pixels, bundled with scikit-learn: trains in seconds."),
            True,
            load_digits,
        ),
        DatasetInfo(
            "shapes",
            N_("Shapes (generated, with masks)"),
            N_(
                "Circles, squares, triangles, crosses and rings of random size, position, rotation and colour "
                "on textured noise. Each image has a ground-truth mask, so Grad-CAM maps can be scored."
            ),
            True,
            load_shapes,
        ),
        DatasetInfo(
            "clutter",
            N_("Shapes in clutter (64x64, generated)"),
            N_(
                "The same five shapes, one large target per image among smaller shapes of other classes, strokes "
                "and blobs on striped backgrounds. The mask covers the target only, so Grad-CAM shows whether a "
                "net looks at the target or at the clutter."
            ),
            True,
            load_clutter,
        ),
        DatasetInfo(
            "cifar10",
            "CIFAR-10",
            N_(
                "60,000 colour photos at 32x32 in 10 classes, the dataset of He et al. 2016 section 4.2 "
                "(download, 170 MB)."
            ),
            False,
            torchvision_loader("cifar10", "CIFAR10", "CIFAR-10"),
        ),
        DatasetInfo(
            "mnist",
            "MNIST",
            N_("70,000 handwritten digits at 28x28 (download, 12 MB)."),
            False,
            torchvision_loader("mnist", "MNIST", "MNIST"),
        ),
        DatasetInfo(
            "fashion_mnist",
            "Fashion-MNIST",
            N_("70,000 clothing images at 28x28 in 10 classes (download, 30 MB)."),
            False,
            torchvision_loader("fashion_mnist", "FashionMNIST", "Fashion-MNIST"),
        ),
        DatasetInfo(
            "folder",
            N_("Image folder"),
            N_("Your own images: a folder with one sub-folder per class (torchvision ImageFolder layout)."),
            True,
            load_folder,
            web=False,  # a visitor cannot give a folder on the server: `resnet-viz train --dataset folder --data-root DIR`
        ),
    )
}


# The datasets the web pages offer, in menu order (registry keys).
WEB_DATASETS: tuple[str, ...] = tuple(name for name, info in DATASETS.items() if info.web)


def load_dataset(cfg: DataConfig) -> Dataset:
    """The dataset `cfg` names, limited/resized/standardised as it asks (DataConfig has checked
    the seed: numpy takes no negative one)."""
    info = DATASETS.get(cfg.name)
    if info is None:
        raise ConfigError(
            _("unknown dataset {name}; choose one of {choices}").format(
                name=repr(cfg.name), choices=", ".join(DATASETS)
            )
        )
    return info.loader(cfg)
