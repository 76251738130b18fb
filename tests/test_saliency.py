"""Saliency maps against oracles: a 4x4 Grad-CAM worked out by hand, and torch's own autograd
(forward hooks + torch.autograd.grad) for Grad-CAM, saliency and Integrated Gradients' completeness.
Tiny nets only: the whole file runs in seconds on a 2-core CPU."""

from __future__ import annotations

import copy
import gc
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.engine.config import ModelConfig
from resnet_viz.engine.models import build_model
from resnet_viz.saliency.localisation import localisation_score, mean_localisation
from resnet_viz.saliency.maps import (
    METHOD_TITLES,
    METHODS,
    SaliencyError,
    attribute,
    default_layer,
    frozen_copy,
    integrated_gradients,
    layer_choices,
    predict,
)

# captum warns on every GuidedBackprop call that it hooks the ReLUs (resnet_viz.saliency.maps filters
# it at import, but pytest restores the warning filters around collection and each test).
pytestmark = pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU activations")

CIFAR = ModelConfig(depth=8, width=4, in_channels=3, image_size=32, num_classes=5)


def cifar_net(seed: int = 0, cfg: ModelConfig = CIFAR) -> nn.Module:
    torch.manual_seed(seed)
    model = build_model(cfg)
    # Non-trivial BN running statistics, so eval mode differs from train mode (a test that
    # accidentally ran in train mode would then fail).
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, cfg.in_channels, cfg.image_size, cfg.image_size) * 2 + 0.5)
    return model


def images(b: int = 2, seed: int = 1, size: int = 32) -> torch.Tensor:
    return torch.randn(b, 3, size, size, generator=torch.Generator().manual_seed(seed))


# --- the hand-computed case ---------------------------------------------------------------------


class Tiny(nn.Module):
    """x (1, 1, 4, 4) -> A = conv1x1(x) (1, 2, 4, 4) -> GAP (1, 2) -> linear (1, 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 1)
        self.head = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([2.0, -1.0]).view(2, 1, 1, 1))  # A_0 = 2x + 1, A_1 = -x
            self.conv.bias.copy_(torch.tensor([1.0, 0.0]))
            self.head.weight.copy_(torch.tensor([[1.0, 3.0], [0.5, -2.0]]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x).mean(dim=(2, 3)))


# x = -5, -4, ..., 10 in row-major order. y_c = sum_k W_ck mean(A_k), so dy_c/dA_k = W_ck / 16 at
# every position: alpha_k = W_ck / 16.
#   class 0: (1 * (2x + 1) + 3 * (-x)) / 16 = (1 - x) / 16, ReLU keeps x <= 1.
#   class 1: (0.5 * (2x + 1) - 2 * (-x)) / 16 = (3x + 0.5) / 16, ReLU keeps x >= 0.
# Logits: mean x = 2.5, mean A_0 = 6, mean A_1 = -2.5, so y = (6 - 7.5, 3 + 5) = (-1.5, 8): top-1 is 1.
TINY_X = (torch.arange(16, dtype=torch.float32) - 5).view(1, 1, 4, 4)
TINY_CAM = {
    0: [[0.375, 0.3125, 0.25, 0.1875], [0.125, 0.0625, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]],
    1: [
        [0.0, 0.0, 0.0, 0.0],
        [0.0, 0.03125, 0.21875, 0.40625],
        [0.59375, 0.78125, 0.96875, 1.15625],
        [1.34375, 1.53125, 1.71875, 1.90625],
    ],
}


@pytest.mark.parametrize("target", [0, 1, None])
def test_gradcam_matches_hand_computed_4x4_map(target):
    model = Tiny()
    cam = attribute(model, TINY_X, "gradcam", layer=model.conv, target=target)
    expected = torch.tensor(TINY_CAM[1 if target is None else target]).unsqueeze(0)
    assert cam.shape == (1, 4, 4) and cam.dtype == torch.float32
    torch.testing.assert_close(cam, expected, atol=1e-6, rtol=0)


def test_layer_given_by_name_or_module_is_the_same():
    model = Tiny()
    by_name = attribute(model, TINY_X, "gradcam", layer="conv", target=0)
    by_module = attribute(model, TINY_X, "gradcam", layer=model.conv, target=0)
    torch.testing.assert_close(by_name, by_module, atol=0, rtol=0)


# --- torch as the oracle ------------------------------------------------------------------------


def reference_gradcam(model: nn.Module, layer: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Grad-CAM from its definition (Selvaraju et al. 2017, eq. 1-2), with a hook and autograd.grad."""
    store: dict[str, torch.Tensor] = {}
    handle = layer.register_forward_hook(lambda _m, _i, out: store.__setitem__("A", out))
    try:
        logits = model(x)  # (B, classes)
    finally:
        handle.remove()
    A = store["A"]  # (B, K, h, w)
    (g,) = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), A)  # (B, K, h, w)
    alpha = g.mean(dim=(2, 3), keepdim=True)  # (B, K, 1, 1)
    cam = F.relu((alpha * A).sum(dim=1, keepdim=True))  # (B, 1, h, w)
    return F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0].detach()


def test_gradcam_matches_direct_formula_on_every_block_of_a_cifar_net():
    model = cifar_net()
    x = images(2)
    ref_model = copy.deepcopy(model).eval()
    target = torch.tensor([3, 1])
    for (name, _), (_, ref_layer) in zip(layer_choices(model), layer_choices(ref_model)):
        cam = attribute(model, x, "gradcam", layer=name, target=target)
        expected = reference_gradcam(ref_model, ref_layer, x, target)
        assert cam.shape == (2, 32, 32)
        assert expected.abs().max() > 0, name  # a dead map would make the comparison vacuous
        torch.testing.assert_close(cam, expected, atol=1e-5, rtol=1e-4, msg=name)


def test_saliency_is_abs_input_gradient_max_over_channels():
    model = cifar_net()
    x = images(2)
    ref_model = copy.deepcopy(model).eval()
    xr = x.clone().requires_grad_()
    target = torch.tensor([0, 4])
    (g,) = torch.autograd.grad(ref_model(xr).gather(1, target[:, None]).sum(), xr)  # (B, 3, H, W)
    expected = g.abs().amax(dim=1)
    torch.testing.assert_close(attribute(model, x, "saliency", target=target), expected, atol=1e-7, rtol=1e-5)


def test_integrated_gradients_is_complete_and_attribute_reduces_it_by_abs_sum():
    model = cifar_net()
    x = images(2)
    ref_model = copy.deepcopy(model).eval()
    target = torch.tensor([2, 2])
    ig = integrated_gradients(model, x, target, n_steps=64, internal_batch_size=32)  # (B, 3, H, W) signed
    assert ig.shape == x.shape
    with torch.no_grad():
        gap = ref_model(x)[:, 2] - ref_model(torch.zeros_like(x))[:, 2]  # f(x) - f(baseline 0)
    assert gap.abs().min() > 1e-3  # a zero gap would make completeness trivially true
    # Completeness (Sundararajan et al. 2017, Prop. 1): attributions sum to the logit difference.
    torch.testing.assert_close(ig.sum(dim=(1, 2, 3)), gap, atol=2e-3, rtol=2e-2)
    reduced = attribute(model, x, "integrated_gradients", target=target, n_steps=64, internal_batch_size=32)
    torch.testing.assert_close(reduced, ig.abs().sum(dim=1), atol=1e-6, rtol=1e-5)


def test_integrated_gradients_memory_batching_does_not_change_the_result():
    model = cifar_net()
    x = images(2)
    small = attribute(model, x, "integrated_gradients", target=1, n_steps=16, internal_batch_size=4)
    large = attribute(model, x, "integrated_gradients", target=1, n_steps=16, internal_batch_size=64)
    torch.testing.assert_close(small, large, atol=1e-6, rtol=1e-4)


# --- targets and shapes -------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_every_method_gives_one_finite_nonnegative_map_per_image(method):
    model = cifar_net()
    cams = attribute(model, images(2), method, n_steps=8)
    assert cams.shape == (2, 32, 32) and cams.dtype == torch.float32
    assert torch.isfinite(cams).all() and (cams >= 0).all()
    assert cams.flatten(1).amax(dim=1).gt(0).all()
    assert method in METHOD_TITLES


@pytest.mark.parametrize("method", METHODS)
def test_target_none_is_top1_and_another_target_changes_the_map(method):
    model = cifar_net()
    x = images(2)
    _, top = predict(model, x, k=2)  # (B, 2)
    auto = attribute(model, x, method, n_steps=8)
    torch.testing.assert_close(auto, attribute(model, x, method, target=top[:, 0], n_steps=8), atol=1e-7, rtol=1e-6)
    other = attribute(model, x, method, target=top[:, 1], n_steps=8)
    assert (other - auto).abs().max() > 1e-4 * auto.abs().max()


def test_attribute_runs_under_no_grad():
    model = cifar_net()
    x = images(1)
    expected = attribute(model, x, "gradcam", target=1)
    with torch.no_grad():
        torch.testing.assert_close(attribute(model, x, "gradcam", target=1), expected, atol=0, rtol=0)


def test_predict_returns_sorted_top_k_probabilities():
    model = cifar_net()
    x = images(3)
    probs, idx = predict(model, x, k=3)
    assert probs.shape == idx.shape == (3, 3)
    with torch.no_grad():
        ref = torch.softmax(copy.deepcopy(model).eval()(x), dim=1)
    torch.testing.assert_close(probs, ref.gather(1, idx))
    assert (idx[:, 0] == ref.argmax(dim=1)).all() and (probs[:, :-1] >= probs[:, 1:]).all()
    assert predict(model, x, k=50)[0].shape == (3, 5)  # k is capped at the number of classes


# --- the caller's model is never touched ---------------------------------------------------------

HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")


def hook_count(model: nn.Module) -> int:
    return sum(len(getattr(m, d)) for m in model.modules() for d in HOOK_DICTS)


def live_tensors() -> tuple[int, int]:
    gc.collect()
    # issubclass(type(o)) rather than isinstance: isinstance reads o.__class__, which some lazy
    # module proxies answer with a deprecation warning.
    ts = [o for o in gc.get_objects() if issubclass(type(o), torch.Tensor)]
    return len(ts), sum(t.untyped_storage().nbytes() for t in ts if not t.is_meta)


def test_hundred_calls_leave_no_hooks_no_memory_and_the_model_as_it_was():
    model = cifar_net()
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}  # includes BN running stats
    grads_before = [p.requires_grad for p in model.parameters()]
    fired = []
    probe = model.blocks[1].register_forward_hook(lambda *_: fired.append(1))  # someone else's hook
    frozen = frozen_copy(model)
    assert hook_count(frozen) == 0  # the copy does not inherit it
    x = images(1)

    def run(i: int) -> None:
        # Alternate: the caller's model (copied per call) and a frozen copy that captum hooks itself.
        method = METHODS[(i // 2) % len(METHODS)]
        if i % 2:
            attribute(frozen, x, method, n_steps=2, frozen=True)
        else:
            attribute(model, x, method, n_steps=2)

    for i in range(8):  # warm-up: captum/torch caches
        run(i)
    n0, bytes0 = live_tensors()
    for i in range(100):
        run(i)
    n1, bytes1 = live_tensors()

    assert fired == []  # attribution never ran the caller's model
    assert hook_count(model) == 1 and hook_count(frozen) == 0
    probe.remove()
    assert n1 - n0 <= 5 and bytes1 - bytes0 <= 64 * 1024, (n0, n1, bytes0, bytes1)
    assert model.training and all(m.training for m in model.modules())
    assert [p.requires_grad for p in model.parameters()] == grads_before
    assert all(p.grad is None for p in model.parameters())
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_frozen_true_refuses_a_model_that_is_not_a_frozen_copy():
    model = cifar_net()
    with pytest.raises(SaliencyError, match="frozen_copy"):
        attribute(model, images(1), frozen=True)
    frozen = frozen_copy(model)
    assert not frozen.training and not any(p.requires_grad for p in frozen.parameters())
    torch.testing.assert_close(attribute(frozen, images(1), frozen=True), attribute(model, images(1)), atol=0, rtol=0)


def test_threads_sharing_one_frozen_copy_get_the_serial_answers():
    # Without the per-copy lock, one call's captum hooks fire in another's forward ("differentiated
    # tensor ... not used in the graph", or a wrong map): seen in 4 threads x 20 calls.
    import threading

    frozen = frozen_copy(cifar_net())
    x = images(2)
    methods = ("gradcam", "guided_gradcam")
    serial = {(m, t): attribute(frozen, x, m, target=t, frozen=True) for m in methods for t in (0, 3)}
    errors: list[str] = []

    def work(t: int) -> None:
        try:
            for i in range(12):
                m = methods[i % 2]
                if not torch.equal(attribute(frozen, x, m, target=t, frozen=True), serial[(m, t)]):
                    errors.append(f"{m} target {t}: map differs")
        except (RuntimeError, ValueError) as e:  # autograd and captum errors; reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(t,)) for t in (0, 3, 0, 3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert hook_count(frozen) == 0


# --- torchvision ResNets ------------------------------------------------------------------------


def test_torchvision_resnet18_layers_and_both_gradcams():
    torchvision = pytest.importorskip("torchvision")
    from captum.attr import GuidedGradCam

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10)
    names = [n for n, _ in layer_choices(model)]
    assert names == ["layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1", "layer4.0", "layer4.1"]
    assert default_layer(model) == ("layer4.1", model.layer4[1])
    x = images(2, size=64)

    cam = attribute(model, x, "gradcam")
    assert cam.shape == (2, 64, 64) and torch.isfinite(cam).all() and (cam >= 0).all() and cam.max() > 0
    ref = copy.deepcopy(model).eval()
    top = ref(x).argmax(dim=1)
    torch.testing.assert_close(cam, reference_gradcam(ref, ref.layer4[1], x, top), atol=1e-5, rtol=1e-4)

    ggc = attribute(model, x, "guided_gradcam", layer="layer3.1", target=top)
    frozen = frozen_copy(model)
    assert not any(getattr(m, "inplace", False) for m in frozen.modules())
    direct = GuidedGradCam(frozen, frozen.layer3[1]).attribute(
        x.clone().requires_grad_(), target=top, interpolate_mode="bilinear"
    )  # (B, 3, H, W)
    assert ggc.shape == (2, 64, 64) and ggc.max() > 0
    torch.testing.assert_close(ggc, direct.abs().sum(dim=1), atol=1e-7, rtol=1e-5)
    assert model.relu.inplace  # the caller's ReLUs were left as they were
    assert model.training


# --- errors -------------------------------------------------------------------------------------


def test_bad_requests_raise_saliency_error_naming_the_choices():
    model = cifar_net()
    x = images(2)
    with pytest.raises(SaliencyError, match="gradcam, guided_gradcam, saliency, integrated_gradients"):
        attribute(model, x, "lime")
    with pytest.raises(SaliencyError, match=r"'layer9'.*blocks\.0, blocks\.1, blocks\.2"):
        attribute(model, x, "gradcam", layer="layer9")
    with pytest.raises(SaliencyError, match=r"target 5 is out of range: this model has 5 classes \(0\.\.4\)"):
        attribute(model, x, "gradcam", target=5)
    with pytest.raises(SaliencyError, match="out of range"):
        attribute(model, x, "saliency", target=[0, -1])
    with pytest.raises(SaliencyError, match="3 classes for 2 images"):
        attribute(model, x, "saliency", target=[0, 1, 2])
    with pytest.raises(SaliencyError, match="not a submodule"):
        attribute(model, x, "gradcam", layer=nn.Conv2d(3, 3, 1))
    with pytest.raises(SaliencyError, match=r"\(B, C, H, W\)"):
        attribute(model, x[0], "gradcam")
    with pytest.raises(SaliencyError, match="not a .B, C, h, w. map"):
        attribute(model, x, "gradcam", layer="head")
    assert issubclass(SaliencyError, ValueError)


def test_mlp_has_no_spatial_map():
    mlp = build_model(ModelConfig(arch="mlp", depth=2, width=16, in_channels=3, image_size=8, num_classes=4))
    x = images(2, size=8)
    with pytest.raises(SaliencyError, match="MLP .*no spatial feature map"):
        layer_choices(mlp)
    for method in ("gradcam", "guided_gradcam"):
        with pytest.raises(SaliencyError, match="MLP"):
            attribute(mlp, x, method)
    # Input-gradient methods need no feature map and still work on pixels.
    assert attribute(mlp, x, "saliency").shape == (2, 8, 8)


# --- localisation -------------------------------------------------------------------------------


def test_localisation_score_on_hand_made_maps():
    cam = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 1.0], [0.0, 0.0, 4.0]])  # total 8, max at (2, 2)
    mask = torch.zeros(3, 3, dtype=torch.bool)
    mask[0, 0] = mask[1, 1] = True
    assert localisation_score(cam, mask) == (0.375, False)  # (1 + 2) / 8 inside, the max outside
    mask[2, 2] = True
    assert localisation_score(cam, mask) == (0.875, True)
    assert localisation_score(cam, torch.ones(3, 3, dtype=torch.bool)) == (1.0, True)
    share, hit = localisation_score(torch.zeros(3, 3), mask)
    assert math.isnan(share) and hit is False
    with pytest.raises(SaliencyError):
        localisation_score(cam, mask[:2])
    with pytest.raises(SaliencyError, match="non-negative"):
        localisation_score(-cam, mask)


def test_mean_localisation_agrees_with_per_image_scores():
    from resnet_viz.engine.data.shapes import make_shapes

    imgs, labels, masks = make_shapes(5, size=32, seed=3)
    x = (torch.from_numpy(imgs).permute(0, 3, 1, 2) - 0.5) / 0.25  # (5, 3, 32, 32) standardised
    m = torch.from_numpy(masks)
    model = cifar_net()
    share, hits = mean_localisation(model, x, m, method="gradcam", layer="blocks.1", batch=2)
    assert 0.0 <= share <= 1.0 and 0.0 <= hits <= 1.0
    cams = attribute(model, x, "gradcam", layer="blocks.1")
    scores = [localisation_score(c, k) for c, k in zip(cams, m)]
    shares = [s for s, _ in scores if not math.isnan(s)]
    assert share == pytest.approx(sum(shares) / len(shares), abs=1e-6)
    assert hits == sum(h for _, h in scores) / 5
    with_labels = mean_localisation(model, x, m, target=torch.from_numpy(labels), batch=5)
    assert all(0.0 <= v <= 1.0 for v in with_labels)
