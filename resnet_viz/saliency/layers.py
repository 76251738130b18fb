"""The network a saliency map is read from: the layers a map can read (`layer_choices`,
`default_layer`, `resolve_layer`) and the private frozen copy every attribution runs on
(`frozen_copy`), with one lock per shared copy while captum's hooks are on it. Split from
resnet_viz.saliency.maps, which computes the maps on these.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import weakref

import torch
from torch import nn

from ..engine.models import MLP
from ..i18n import _

_FROZEN_FLAG = "_resnet_viz_frozen"
_NAMES_ATTR = "_resnet_viz_module_names"
_CLASSES_ATTR = "_resnet_viz_num_classes"
# One lock per frozen copy: captum's hooks live on the modules during a call, so two threads
# attributing on one shared frozen copy at once would each see the other's hooks.
_LOCKS: weakref.WeakKeyDictionary[nn.Module, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


class SaliencyError(ValueError):
    """A saliency request that cannot be served; the message says why and what is allowed."""


# --- layers -------------------------------------------------------------------------------------


def layer_choices(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every block whose output is a spatial map, by name, input to output.

    Our networks list their blocks ("blocks.0", ...); torchvision ResNets their stages' blocks
    ("layer1.0", ..., "layer4.1" for resnet18). The last entry is :func:`default_layer`.
    """
    if isinstance(model, MLP):
        raise SaliencyError(
            _(
                "an MLP flattens the image before its first layer, so it has no spatial feature map for "
                "Grad-CAM; use 'saliency' or 'integrated_gradients', which attribute to input pixels"
            )
        )
    probe_blocks = getattr(model, "probe_blocks", None)
    if callable(probe_blocks):
        return list(probe_blocks())
    stages = [getattr(model, f"layer{i}", None) for i in range(1, 5)]
    if all(isinstance(s, nn.Sequential) for s in stages):  # torchvision ResNet, duck-typed: no torchvision import
        return [(f"layer{i}.{j}", block) for i, stage in enumerate(stages, 1) for j, block in stage.named_children()]
    raise SaliencyError(
        _(
            "{model} is neither a resnet_viz network nor a torchvision ResNet, so there is no list of blocks to "
            "choose from; pass layer= a submodule (or its name) whose output is a (B, C, h, w) map"
        ).format(model=type(model).__name__)
    )


def default_layer(model: nn.Module) -> tuple[str, nn.Module]:
    """The last block of the last stage: the finest semantics that still keep a spatial map
    (Selvaraju et al. 2017 §3 use the last conv layer for the same reason)."""
    return layer_choices(model)[-1]


def resolve_layer(model: nn.Module, layer: str | nn.Module | None) -> str:
    """The name (in ``model.named_modules()``) of the requested layer."""
    if layer is None:
        return default_layer(model)[0]
    if isinstance(layer, nn.Module):
        for name, m in model.named_modules():
            if m is layer and name:
                return name
        raise SaliencyError(
            _(
                "the layer given ({layer}) is not a submodule of this model; pass one of its modules or one of "
                "these names: {choices}"
            ).format(layer=type(layer).__name__, choices=_choices_text(model))
        )
    if isinstance(layer, str) and layer and layer in _module_names(model):
        return layer
    raise SaliencyError(
        _("unknown layer {layer}; choose one of: {choices}").format(layer=repr(layer), choices=_choices_text(model))
    )


def _module_names(model: nn.Module) -> frozenset[str] | dict[str, nn.Module]:
    """Submodule names; a frozen copy keeps its set (its modules never change), which saves a
    walk over every module on each click (bench/bench_saliency.py: ~0.1 ms of a 9 ms Grad-CAM)."""
    names = getattr(model, _NAMES_ATTR, None)
    return names if names is not None else dict(model.named_modules())


def _choices_text(model: nn.Module) -> str:
    try:
        return ", ".join(name for name, _block in layer_choices(model))
    except SaliencyError:
        names = [n for n, _module in model.named_modules() if n]
        return ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")


# --- the frozen copy ----------------------------------------------------------------------------


def frozen_copy(model: nn.Module) -> nn.Module:
    """A private snapshot of `model` for attribution: deep copy, eval mode, no parameter grads.

    - eval mode: BatchNorm uses its running statistics, so an image's map does not depend on the
      other images in the batch, and no running statistic is updated.
    - ``requires_grad=False`` on parameters: backward passes write no ``.grad``; gradients with
      respect to the input and to layer outputs still flow.
    - activations that overwrite their input (torchvision builds its ReLUs with the ``inplace``
      flag set) are switched to out-of-place on the copy: captum's hooks clone a module's input and
      read its output, which an overwriting op would corrupt.
    - hooks copied along with the modules (a training probe's, say) are dropped from the copy, so
      attribution forward passes never feed someone else's hook.

    The caller's model is not modified. If a worker is updating it while this copies, the copy may
    mix two adjacent steps' weights; copy under the worker's lock if a single step matters.
    """
    frozen = copy.deepcopy(model)
    frozen.eval()
    for p in frozen.parameters():
        p.requires_grad_(False)
        p.grad = None
    for m in frozen.modules():
        if getattr(m, "inplace", None) is True:
            m.inplace = False
        for hooks in (
            m._forward_hooks,
            m._forward_hooks_with_kwargs,
            m._forward_hooks_always_called,
            m._forward_pre_hooks,
            m._forward_pre_hooks_with_kwargs,
            m._backward_hooks,
            m._backward_pre_hooks,
        ):
            hooks.clear()
    setattr(frozen, _FROZEN_FLAG, True)
    # Fixed for the copy's lifetime, so computed once here rather than on every attribution.
    object.__setattr__(frozen, _NAMES_ATTR, frozenset(n for n, _module in frozen.named_modules()))
    object.__setattr__(frozen, _CLASSES_ATTR, num_classes(frozen))
    return frozen


def _lock_for(frozen: nn.Module) -> threading.Lock:
    with _LOCKS_GUARD:
        lock = _LOCKS.get(frozen)
        if lock is None:
            lock = _LOCKS[frozen] = threading.Lock()
        return lock


def _exclusive(net: nn.Module, shared: bool) -> contextlib.AbstractContextManager:
    """Hold the frozen copy's lock while captum's hooks are on it; a private copy needs none."""
    return _lock_for(net) if shared else contextlib.nullcontext()


def _prepare(model: nn.Module, frozen: bool) -> nn.Module:
    if not frozen:
        return frozen_copy(model)
    if not getattr(model, _FROZEN_FLAG, False):
        raise SaliencyError(
            _(
                "frozen=True needs a model returned by frozen_copy(model); this one is not, and attribution "
                "must not hook or run a model that may be training"
            )
        )
    return model


def _device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def num_classes(model: nn.Module) -> int | None:
    """Output width of the classifier: the last nn.Linear defined (our `head`, torchvision's `fc`)."""
    if hasattr(model, _CLASSES_ATTR):  # a frozen copy: counted once when it was made
        return getattr(model, _CLASSES_ATTR)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linears[-1].out_features if linears else None
