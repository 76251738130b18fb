"""Saliency maps: which pixels a trained network's decision depends on, through captum.

Four methods, all returning one (B, H, W) map per image at the input resolution:

- ``gradcam`` (Selvaraju et al. 2017): weight each channel k of a block's output A by
  alpha_k = mean over positions of d y_c / d A_k, then ReLU(sum_k alpha_k A_k), upsampled
  bilinearly. Coarse (the block's resolution) but class-discriminative.
- ``guided_gradcam`` (same paper, §3.2): guided backpropagation (Springenberg et al. 2015) times
  the upsampled Grad-CAM map: pixel-sharp and class-discriminative.
- ``saliency`` (Simonyan et al. 2014): |d y_c / d x|, max over colour channels.
- ``integrated_gradients`` (Sundararajan et al. 2017): (x - x0) * the path-averaged gradient
  from a baseline x0, so the attributions sum to y_c(x) - y_c(x0) (completeness).

Every call runs on :func:`frozen_copy` of the model: a training worker may be mutating the
caller's weights, and captum registers hooks (and GuidedBackprop rewires every ReLU's backward)
that must never touch a model someone else holds. The caller's model is only read.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from numbers import Integral

import torch
from captum.attr import (
    GuidedGradCam,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    Saliency,
)
from torch import nn

from ..engine.models import MLP
from ..i18n import N_, _
from .layers import (  # re-exported: callers take the whole saliency API from maps
    SaliencyError,
    _choices_text,
    _device,
    _exclusive,
    _prepare,
    default_layer,
    frozen_copy,
    layer_choices,
    num_classes,
    resolve_layer,
)

METHODS: tuple[str, ...] = ("gradcam", "guided_gradcam", "saliency", "integrated_gradients")
# Marked, not translated: show a title with `_(METHOD_TITLES[method])`, in the learner's language.
METHOD_TITLES: dict[str, str] = {
    "gradcam": N_("Grad-CAM"),
    "guided_gradcam": N_("Guided Grad-CAM"),
    "saliency": N_("Saliency (input gradient)"),
    "integrated_gradients": N_("Integrated Gradients"),
}
LAYER_METHODS: tuple[str, ...] = ("gradcam", "guided_gradcam")  # the methods that read a block's feature map

Target = int | Sequence[int] | torch.Tensor | None

# captum's GuidedBackprop warns on every call that it hooks the ReLUs; here that is by design (it
# hooks our private copy, and removes the hooks itself). A narrow filter set once, rather than
# warnings.catch_warnings() per call, which swaps the process-wide filter list and so is not
# thread-safe in a Streamlit server.
warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU activations")

# --- predictions and targets --------------------------------------------------------------------


def predict(
    model: nn.Module, images: torch.Tensor, k: int = 5, *, frozen: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k softmax probabilities and class indices, each (B, min(k, classes)), on the CPU."""
    net = _prepare(model, frozen)
    x = _as_batch(images).to(_device(net))
    with torch.no_grad():
        probs = torch.softmax(net(x).float(), dim=1)  # (B, classes)
    top = probs.topk(min(k, probs.shape[1]), dim=1)
    return top.values.cpu(), top.indices.cpu()


def _as_batch(images: torch.Tensor) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise SaliencyError(
            _("images must be a (B, C, H, W) tensor already preprocessed for the model; got {shape}").format(
                shape=shape
            )
        )
    # clone(): a copy autograd may mark requires_grad on; also turns an inference-mode tensor into
    # a normal one. float32: attributions are compared and summed, bf16 would blur them.
    return images.detach().float().clone()


def targets_for(target: Target, batch: int, num_classes: int | None) -> torch.Tensor | None:
    """(B,) int64 class per image, or None for each image's own top-1 class."""
    if target is None:
        return None
    if isinstance(target, bool):
        raise SaliencyError(_bad_target(target))
    if isinstance(target, Integral):
        t = torch.full((batch,), int(target), dtype=torch.long)
    else:
        try:
            t = torch.as_tensor(target).long().reshape(-1).cpu()
        except (TypeError, ValueError, RuntimeError) as e:
            raise SaliencyError(_bad_target(target)) from e
        if t.numel() != batch:
            raise SaliencyError(
                _("target gives {given} classes for {batch} images; give one per image, or one int").format(
                    given=t.numel(), batch=batch
                )
            )
    if num_classes is not None and ((t < 0) | (t >= num_classes)).any():
        bad = int(t[(t < 0) | (t >= num_classes)][0])
        raise SaliencyError(
            _("target {target} is out of range: this model has {n} classes (0..{last})").format(
                target=bad, n=num_classes, last=num_classes - 1
            )
        )
    return t


def _bad_target(target: object) -> str:
    return _("target must be a class index or one index per image; got {target}").format(target=repr(target))


class _ClassScore(nn.Module):
    """The scalar each image's map explains: logit of its target class, (B, C_in, H, W) -> (B,).

    With no target this is the max logit, whose gradient is exactly the top-1 logit's (max routes
    its gradient to the argmax), so top-1 maps need no separate prediction pass.
    """

    def __init__(self, net: nn.Module, target: torch.Tensor | None) -> None:
        super().__init__()
        self.net = net
        self.target = target

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net(x)  # (B, classes)
        if self.target is None:
            return logits.max(dim=1).values
        return logits.gather(1, self.target.to(logits.device)[:, None])[:, 0]


# --- attribution --------------------------------------------------------------------------------


def attribute(
    model: nn.Module,
    images: torch.Tensor,
    method: str = "gradcam",
    layer: str | nn.Module | None = None,
    target: Target = None,
    *,
    internal_batch_size: int = 16,
    n_steps: int = 32,
    frozen: bool = False,
) -> torch.Tensor:
    """One saliency map per image: (B, C, H, W) standardised images -> (B, H, W) float32 on the CPU.

    method: one of :data:`METHODS`.
    layer: for the Grad-CAM methods, a name from :func:`layer_choices` (any submodule name works)
        or the module itself; None is :func:`default_layer`. The input-gradient methods ignore it.
    target: None explains each image's top-1 class; an int one class for all; a sequence one per image.
    internal_batch_size, n_steps: Integrated Gradients evaluates n_steps points per image, at most
        internal_batch_size at once (bounded memory).
    frozen: `model` already is a :func:`frozen_copy` (checked): used as is, so a page that keeps one
        per selected model pays the deep copy once, not on every click. Calls on one frozen copy
        are serialised by a lock, since captum's hooks live on its modules during a call.

    Channel reductions to one map per image (documented choices):
    - guided_gradcam: captum returns guided backprop (B, C, H, W) times the Grad-CAM map, upsampled
      *bilinearly* (captum's default is nearest; bilinear matches our ``gradcam`` panel); the map is
      the sum over colour channels of its absolute value (the L1 norm per pixel).
    - saliency: max over channels of |dy/dx| (Simonyan et al. 2014 §3.1).
    - integrated_gradients: sum over channels of |attribution|. The baseline is the all-zero
      tensor *after* standardisation, i.e. the dataset-mean colour image (black only for data
      standardised to mean 0 at black); see :func:`integrated_gradients` for the signed values.
    """
    if method not in METHODS:
        raise SaliencyError(
            _("unknown method {method}; choose one of: {choices}").format(
                method=repr(method), choices=", ".join(METHODS)
            )
        )
    if method in LAYER_METHODS and isinstance(model, MLP):
        layer_choices(model)  # raises the MLP sentence
    x = _as_batch(images)
    t = targets_for(target, x.shape[0], num_classes(model))
    layer_name = resolve_layer(model, layer) if method in LAYER_METHODS else None
    net = _prepare(model, frozen)
    x = x.to(_device(net))
    if method != "gradcam":
        # Input-gradient methods: mark our own copy (captum would, with a warning). Grad-CAM needs
        # no input gradient; with frozen parameters its forward then records no graph below the layer.
        x.requires_grad_()
    H, W = x.shape[-2:]
    with _exclusive(net, frozen), torch.enable_grad():  # a page may call this under torch.no_grad()
        if method == "integrated_gradients":
            out = _integrated_gradients(net, x, t, n_steps, internal_batch_size).abs().sum(dim=1)
        elif method == "saliency":
            out = Saliency(_ClassScore(net, t)).attribute(x, abs=True).amax(dim=1)  # (B, H, W)
        else:
            out = _layer_method(net, x, t, method, layer_name, (H, W))
    return out.detach().float().cpu()


def _layer_method(
    net: nn.Module, x: torch.Tensor, t: torch.Tensor | None, method: str, layer_name: str, size: tuple[int, int]
) -> torch.Tensor:
    layer = net.get_submodule(layer_name)
    score = _ClassScore(net, t)
    if method == "gradcam":
        cam = LayerGradCam(score, layer).attribute(x, relu_attributions=True)  # (B, 1, h, w)
        if cam.dim() != 4:
            raise SaliencyError(
                _(
                    "layer {layer} outputs shape {shape}, not a (B, C, h, w) map; Grad-CAM needs a convolutional "
                    "block, e.g. one of: {choices}"
                ).format(layer=repr(layer_name), shape=tuple(cam.shape), choices=_choices_text(net))
            )
        return LayerAttribution.interpolate(cam, size, interpolate_mode="bilinear")[:, 0]  # (B, H, W)
    ggc = GuidedGradCam(score, layer).attribute(x, interpolate_mode="bilinear")  # (B, C, H, W)
    if ggc.shape != x.shape:  # captum warns and returns an empty tensor when the layer has no map
        raise SaliencyError(
            _(
                "layer {layer} has no (B, C, h, w) output to upsample; Guided Grad-CAM needs a convolutional "
                "block, e.g. one of: {choices}"
            ).format(layer=repr(layer_name), choices=_choices_text(net))
        )
    return ggc.abs().sum(dim=1)


def _integrated_gradients(
    net: nn.Module, x: torch.Tensor, t: torch.Tensor | None, n_steps: int, internal_batch_size: int
) -> torch.Tensor:
    if n_steps < 1 or internal_batch_size < 1:
        raise SaliencyError(
            _("n_steps and internal_batch_size must be positive; got {n_steps}, {batch}").format(
                n_steps=n_steps, batch=internal_batch_size
            )
        )
    if t is None:  # fix each image's class at x itself: along the path the arg-max may change
        with torch.no_grad():
            t = net(x).argmax(dim=1).cpu()
    ig = IntegratedGradients(net)  # multiply_by_inputs: (x - x0) * mean gradient, so completeness holds
    return ig.attribute(
        x, baselines=0.0, target=t.to(x.device), n_steps=n_steps, internal_batch_size=internal_batch_size
    )  # (B, C, H, W)


def integrated_gradients(
    model: nn.Module,
    images: torch.Tensor,
    target: Target = None,
    *,
    n_steps: int = 32,
    internal_batch_size: int = 16,
    frozen: bool = False,
) -> torch.Tensor:
    """Signed Integrated Gradients per input element, (B, C, H, W) float32 on the CPU.

    Baseline x0 = 0 after standardisation. By completeness the values of image i sum to
    logit_t(x_i) - logit_t(x0), up to the Gauss-Legendre quadrature error of `n_steps` points.
    """
    x = _as_batch(images)
    t = targets_for(target, x.shape[0], num_classes(model))
    net = _prepare(model, frozen)
    with _exclusive(net, frozen), torch.enable_grad():
        out = _integrated_gradients(net, x.to(_device(net)).requires_grad_(), t, n_steps, internal_batch_size)
    return out.detach().float().cpu()


# --- one image, for the page ----------------------------------------------------------------------


def resize_map(cam: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A (H, W) map bilinearly resized to `size` (e.g. a run's 8x8 map onto a 32x32 mask)."""
    cam = torch.as_tensor(cam).float()
    if tuple(cam.shape) == tuple(size):
        return cam
    return nn.functional.interpolate(cam[None, None], size=tuple(size), mode="bilinear", align_corners=False)[0, 0]


def explain(
    model: nn.Module,
    image: torch.Tensor,
    *,
    method: str = "gradcam",
    layer: str | None = None,
    target: int | None = None,
    k: int = 5,
    frozen: bool = False,
) -> tuple[torch.Tensor, list[tuple[int, float]]]:
    """One image (1, C, H, W): its map (H, W) and the top-k (class index, probability), best first.

    A layer name the model does not have (twins of other architectures, a pretrained net) falls
    back to the model's default layer rather than failing.
    """
    if layer is not None and method in LAYER_METHODS and layer not in dict(layer_choices(model)):
        layer = None
    cam = attribute(model, image, method, layer, target, frozen=frozen)[0]
    probs, idx = predict(model, image, k=k, frozen=frozen)
    return cam, [(int(i), float(p)) for p, i in zip(probs[0], idx[0])]


__all__ = [
    "LAYER_METHODS",
    "METHODS",
    "METHOD_TITLES",
    "SaliencyError",
    "attribute",
    "default_layer",
    "frozen_copy",
    "integrated_gradients",
    "layer_choices",
    "num_classes",
    "predict",
    "resize_map",
    "resolve_layer",
    "targets_for",
]
