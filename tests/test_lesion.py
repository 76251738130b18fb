"""Lesion study and layer responses against oracles: train.evaluate, hand-written forwards, torch.std."""

from __future__ import annotations

import functools
import json
import math
import statistics

import pytest
import torch
import torch.nn.functional as F
from helpers import count_hooks
from torch import nn

from resnet_viz.analysis import lesion
from resnet_viz.analysis.lesion import (
    BlockLesion,
    LesionResult,
    RandomLesion,
    deleted,
    layer_responses,
    lesion_study,
    lesionable_blocks,
    quieter,
)
from resnet_viz.engine.config import DataConfig, ModelConfig
from resnet_viz.engine.data import load_dataset
from resnet_viz.engine.models import ShortcutA, build_model
from resnet_viz.engine.train import evaluate
from resnet_viz.text.lesion import lesion_sentences, one_block_sentence, response_sentences

CONFIGS = {
    "residual": ModelConfig(depth=14, width=4),
    "plain": ModelConfig(depth=14, width=4, residual=False),
    "residual-B": ModelConfig(depth=14, width=4, shortcut="B"),
    "preact": ModelConfig(depth=14, width=4, preact=True),
    "nobn": ModelConfig(depth=14, width=4, bn=False),
}


@functools.cache
def _digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    d = load_dataset(DataConfig())
    return d.x_train, d.y_train, d.x_test, d.y_test  # (1438, 1, 8, 8), (1438,), (359, 1, 8, 8), (359,)


@functools.cache
def _prepared_state(kind: str) -> dict[str, torch.Tensor]:
    # No SGD (too slow for this file's budget): random BN affine parameters, running statistics
    # recalibrated on the training set, and a least-squares head on the random features. Accuracy
    # is well above chance and eval-mode BN is far from the identity, so every check below would
    # notice a block that ran in train mode or was skipped wrongly.
    x, y, _, _ = _digits()
    torch.manual_seed(0)
    model = build_model(CONFIGS[kind])
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
                m.momentum = None  # cumulative average: one pass gives the training set's statistics
        model.train()(x)
        model.eval()
        feats = torch.flatten(model.pool(model.forward_features(x)), 1)  # (N, 4w)
        design = torch.cat([feats, torch.ones(len(x), 1)], 1)  # (N, 4w + 1)
        sol = torch.linalg.lstsq(design, F.one_hot(y, 10).float()).solution  # (4w + 1, 10)
        model.head.weight.copy_(sol[:-1].T)
        model.head.bias.copy_(sol[-1])
    return {k: v.clone() for k, v in model.state_dict().items()}


def _model(kind: str) -> nn.Module:
    model = build_model(CONFIGS[kind])
    model.load_state_dict(_prepared_state(kind))
    return model.eval()


def _forward_skipping(model: nn.Module, x: torch.Tensor, skip: dict[int, nn.Module]) -> torch.Tensor:
    """The network written out by hand, with blocks i in `skip` replaced by skip[i]."""
    h = model.stem(x)
    for i, block in enumerate(model.blocks):
        h = skip[i](h) if i in skip else block(h)
    h = model.final(h)
    return model.head(torch.flatten(model.pool(h), 1))


def _correct(acc: float, y: torch.Tensor) -> int:
    # evaluate() divides in float32, lesion_study in float64: compare the counts they stand for.
    return round(acc * len(y))


def _no_patches(model: nn.Module) -> bool:
    return count_hooks(model) == 0 and not any("forward" in m.__dict__ for m in model.modules())


def test_deleting_no_block_reproduces_evaluate() -> None:
    _, _, x, y = _digits()
    for kind in ("residual", "plain"):
        model = _model(kind)
        _, acc = evaluate(model, x, y)
        assert acc > 0.2  # twice chance: a wrong baseline could not hide at chance level
        with deleted(model, []):
            assert evaluate(model, x, y)[1] == acc
        assert _correct(lesion_study(model, x, y, ks=[]).baseline_acc, y) == _correct(acc, y)


@pytest.mark.parametrize("kind", ["residual", "residual-B", "preact"])
@pytest.mark.parametrize("index", [1, 2])  # blocks.1 keeps the shape; blocks.2 halves resolution, doubles channels
def test_deleted_residual_block_outputs_its_shortcut(kind: str, index: int) -> None:
    _, _, x, _ = _digits()
    x = x[:32]
    model = _model(kind)
    block = model.blocks[index]
    seen = {}
    with deleted(model, [f"blocks.{index}"]):
        h = block.register_forward_hook(lambda _m, i, o: seen.update(inp=i[0], out=o))
        with torch.no_grad():
            logits = model(x)
        h.remove()
    with torch.no_grad():
        expected = block.shortcut(seen["inp"])  # y = shortcut(x): no F(x), no activation after it
        torch.testing.assert_close(seen["out"], expected, rtol=0, atol=0)
        torch.testing.assert_close(logits, _forward_skipping(model, x, {index: block.shortcut}), rtol=0, atol=0)
        assert not torch.allclose(logits, model(x))  # the deletion changed something
    if index == 1:
        torch.testing.assert_close(seen["out"], seen["inp"], rtol=0, atol=0)
    if kind == "residual-B" and index == 2:
        assert (seen["out"] < 0).any()  # the projection's BN output, not passed through a ReLU


def test_plain_blocks_skip_by_identity_or_option_a() -> None:
    _, _, x, _ = _digits()
    x = x[:32]
    model = _model("plain")
    w = CONFIGS["plain"].width
    seen: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    with deleted(model, ["blocks.1", "blocks.2"]):
        hooks = [
            model.blocks[i].register_forward_hook(lambda _m, inp, o, i=i: seen.__setitem__(i, (inp[0], o)))
            for i in (1, 2)
        ]
        with torch.no_grad():
            logits = model(x)
        for h in hooks:
            h.remove()
    inp, out = seen[1]
    torch.testing.assert_close(out, inp, rtol=0, atol=0)
    inp, out = seen[2]  # (32, w, 8, 8) -> (32, 2w, 4, 4)
    assert inp.shape == (32, w, 8, 8) and out.shape == (32, 2 * w, 4, 4)
    torch.testing.assert_close(out[:, :w], inp[:, :, ::2, ::2], rtol=0, atol=0)  # strided identity
    assert torch.count_nonzero(out[:, w:]) == 0  # zero-padded channels
    option_a = ShortcutA(w, 2 * w, 2)
    torch.testing.assert_close(out, option_a(inp), rtol=0, atol=0)
    with torch.no_grad():
        torch.testing.assert_close(logits, _forward_skipping(model, x, {1: nn.Identity(), 2: option_a}), rtol=0, atol=0)


def test_everything_restored_after_exit_and_exception() -> None:
    _, _, x, _ = _digits()
    x = x[:32]
    model = _model("residual-B")
    names = [name for name, _, _ in lesionable_blocks(model)]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        before = model(x)
    for i in range(100):
        try:
            with deleted(model, names[i % 6 :]):
                if i % 10 == 0:  # a forward every time would cost seconds on a busy 2-core machine
                    with torch.no_grad():
                        assert not torch.equal(model(x), before)
                if i % 2:
                    raise RuntimeError("boom")
        except RuntimeError:
            assert i % 2
    with pytest.raises(KeyError), deleted(model, ["blocks.1", "stem"]):
        pass
    assert _no_patches(model)
    with torch.no_grad():
        assert torch.equal(model(x), before)
    after = model.state_dict()
    assert state.keys() == after.keys() and all(torch.equal(state[k], after[k]) for k in state)


def test_deleted_block_does_not_run_even_in_train_mode() -> None:
    _, _, x, _ = _digits()
    model = _model("residual").train()
    bn = model.blocks[3].F[1]
    mean = bn.running_mean.clone()
    with deleted(model, ["blocks.3"]), torch.no_grad():
        model(x[:32])
    assert torch.equal(bn.running_mean, mean)  # its BN never saw a batch
    assert not torch.equal(model.blocks[2].F[1].running_mean, _prepared_state("residual")["blocks.2.F.1.running_mean"])


def test_lesion_study_entries_flags_and_exact_random_means() -> None:
    _, _, x, y = _digits()
    model = _model("residual").train()  # the study must not flip the caller's model to eval
    state = {k: v.clone() for k, v in model.state_dict().items()}
    # Oracle for the flags: a block downsamples when its output shape differs from its input's.
    shapes = {}
    hooks = [
        b.register_forward_hook(lambda _m, i, o, n=n: shapes.__setitem__(n, i[0].shape != o.shape))
        for n, b in model.probe_blocks()
    ]
    with torch.no_grad():
        model.eval()(x[:2])
    model.train()
    for h in hooks:
        h.remove()
    progress = []
    res = lesion_study(model, x, y, draws=10, on_progress=lambda d, t: progress.append((d, t)))
    assert [b.name for b in res.blocks] == [f"blocks.{i}" for i in range(6)]
    assert (
        [b.downsampling for b in res.blocks]
        == [shapes[f"blocks.{i}"] for i in range(6)]
        == [False, False, True, False, True, False]
    )
    for b in res.blocks:
        with deleted(model, [b.name]):
            assert _correct(b.acc, y) == _correct(evaluate(model, x, y)[1], y)
    # 4 blocks keep the resolution: ks 1..4; with C(4, k) <= 10 every subset is evaluated exactly.
    assert [r.k for r in res.random] == [1, 2, 3, 4]
    assert [r.draws for r in res.random] == [math.comb(4, k) for k in (1, 2, 3, 4)]
    singles = [b.acc for b in res.blocks if not b.downsampling]
    assert res.random[0].mean_acc == pytest.approx(statistics.fmean(singles), abs=1e-12)
    assert res.random[0].std_acc == pytest.approx(statistics.pstdev(singles), abs=1e-12)
    keep = [b.name for b in res.blocks if not b.downsampling]
    with deleted(model, keep):
        assert _correct(res.random[3].mean_acc, y) == _correct(evaluate(model, x, y)[1], y)
    assert res.random[3].std_acc == 0
    total = 1 + 6 + 4 + 6 + 4 + 1
    assert progress == [(i, total) for i in range(1, total + 1)]
    assert model.training and _no_patches(model)
    after = model.state_dict()
    assert all(torch.equal(state[k], after[k]) for k in state)


def test_random_draws_are_seeded_subsets_of_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, x, y = _digits()
    x, y = x[:64], y[:64]
    model = _model("plain")
    drawn: list[tuple[str, ...]] = []
    real = lesion.deleted

    def recording(m: nn.Module, names):
        names = tuple(names)
        drawn.append(names)
        return real(m, names)

    monkeypatch.setattr(lesion, "deleted", recording)

    def draws(seed: int, **kw) -> tuple[LesionResult, list[tuple[str, ...]]]:
        drawn.clear()
        res = lesion_study(model, x, y, ks=[2], draws=3, seed=seed, **kw)
        return res, [d for d in drawn if len(d) == 2]

    res, a = draws(0)
    assert len(a) == 3 and res.random[0].draws == 3  # C(4, 2) = 6 > 3: random draws
    assert all(len(set(d)) == 2 and set(d) <= {"blocks.0", "blocks.1", "blocks.3", "blocks.5"} for d in a)
    monkeypatch.setattr(lesion, "deleted", real)
    accs = []
    for d in a:
        with deleted(model, d):
            accs.append(_correct(evaluate(model, x, y)[1], y) / len(y))
    assert res.random[0].mean_acc == pytest.approx(statistics.fmean(accs), abs=1e-12)
    assert res.random[0].std_acc == pytest.approx(statistics.pstdev(accs), abs=1e-12)
    monkeypatch.setattr(lesion, "deleted", recording)
    assert draws(0) == (res, a)
    assert draws(1)[1] != a
    _, with_down = draws(0, include_downsampling=True)
    assert all(set(d) <= {f"blocks.{i}" for i in range(6)} for d in with_down)
    with pytest.raises(ValueError):
        lesion_study(model, x, y, ks=[5])  # only 4 blocks keep the resolution


def test_to_dict_is_the_documented_json() -> None:
    res = LesionResult(
        0.9,
        (BlockLesion("blocks.0", 0.8, False), BlockLesion("blocks.1", 0.1, True)),
        (RandomLesion(1, 0.45, 0.35, 2),),
    )
    doc = json.loads(json.dumps(res.to_dict()))
    assert doc == {
        "baseline_acc": 0.9,
        "blocks": [
            {"name": "blocks.0", "acc": 0.8, "downsampling": False},
            {"name": "blocks.1", "acc": 0.1, "downsampling": True},
        ],
        "random": [{"k": 1, "mean_acc": 0.45, "std_acc": 0.35}],
    }
    assert LesionResult.from_dict(doc).to_dict() == doc


def test_lesion_sentences_exact() -> None:
    plain = LesionResult(
        0.9,
        (BlockLesion("blocks.0", 0.2, False), BlockLesion("blocks.1", 0.1, False), BlockLesion("blocks.2", 0.05, True)),
        (RandomLesion(1, 0.15, 0.05, 2), RandomLesion(2, 0.1, 0.0, 1)),
    )
    residual = LesionResult(
        0.8,
        (BlockLesion("blocks.0", 0.7, False), BlockLesion("blocks.1", 0.78, False), BlockLesion("blocks.2", 0.3, True)),
        (RandomLesion(1, 0.74, 0.04, 2),),
    )
    assert lesion_sentences(plain, residual) == [
        (
            "plain: 90.0% with every block; deleting one block that keeps the resolution leaves 15.0% on average "
            "over its 2 (worst 10.0%), 17% of the intact accuracy."
        ),
        (
            "residual: 80.0% with every block; deleting one block that keeps the resolution leaves 74.0% on average "
            "over its 2 (worst 70.0%), 92% of the intact accuracy."
        ),
        "Deleting one block hurts the plain net more: it keeps 17% of its accuracy, the residual net 92%.",
        "With 1 block deleted at random: plain 15.0% ± 5.0%, residual 74.0% ± 4.0% (mean ± std over the draws).",
    ]
    more = (RandomLesion(1, 0.5, 0.1, 3), RandomLesion(2, 0.4, 0.1, 3), RandomLesion(3, 0.3, 0.0, 1))
    plain, residual = LesionResult(0.9, (), plain.random + (RandomLesion(3, 0.1, 0.0, 1),)), LesionResult(0.8, (), more)
    assert lesion_sentences(plain, residual, names=("P", "R")) == [
        "P: 90.0% with every block; it has no block that keeps the resolution to delete.",
        "R: 80.0% with every block; it has no block that keeps the resolution to delete.",
        "With 2 blocks deleted at random: P 10.0% ± 0.00%, R 40.0% ± 10.0% (mean ± std over the draws).",
        "With 3 blocks deleted: P 10.0%, R 30.0%.",
    ]
    same = LesionResult(0.5, (BlockLesion("blocks.0", 0.45, False),), ())
    assert lesion_sentences(same, same, names=("a", "b"))[2:] == [
        "Both nets keep about the same share of their accuracy when one block is deleted (90% and 90%)."
    ]


def _oracle_responses(model: nn.Module, x: torch.Tensor, preact: bool) -> list[float]:
    """Every 3x3 layer's response by a forward written out by hand, whole set at once."""
    out = []

    def std(t: torch.Tensor) -> float:
        return t.double().std(correction=0).item()

    with torch.no_grad():
        h = model.stem[0](x)
        if preact:
            out.append(std(h))
        else:
            r = model.stem[1](h)  # BN (or Identity without BN), before the ReLU
            out.append(std(r))
            h = model.stem[2](r)
        for b in model.blocks:
            f = b.F
            if preact:  # BN-act-conv-BN-act-conv: the convs' own outputs
                c1 = f[2](f[1](f[0](h)))
                c2 = f[5](f[4](f[3](c1)))
                out += [std(c1), std(c2)]
                branch = c2
            else:  # conv-BN-act-conv-BN: the BN outputs, before the act and the addition
                n1 = f[1](f[0](h))
                n2 = f[4](f[3](f[2](n1)))
                out += [std(n1), std(n2)]
                branch = n2
            h = b.act(b.add(branch, b.shortcut(h)) if b.shortcut is not None else branch)
    return out


@pytest.mark.parametrize("kind", ["residual", "plain", "preact", "nobn", "residual-B"])
def test_layer_responses_match_a_manual_forward(kind: str) -> None:
    _, _, x, _ = _digits()
    model = _model(kind).train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    got = layer_responses(model, x, batch=100)  # 359 images: 4 uneven batches merged
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert [n for n, _ in got] == convs and len(convs) == 13
    expected = _oracle_responses(model.eval(), x, CONFIGS[kind].preact)
    assert [v for _, v in got] == pytest.approx(expected, rel=1e-5)
    model.train()
    assert _no_patches(model) and all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def test_mlp_first_block_is_not_lesionable_and_has_no_responses() -> None:
    _, _, x, y = _digits()
    model = build_model(ModelConfig(arch="mlp", depth=4, width=16)).eval()
    assert [n for n, _, _ in lesionable_blocks(model)] == ["blocks.1", "blocks.2", "blocks.3"]
    with deleted(model, ["blocks.2"]), torch.no_grad():
        h = model.blocks[1](model.blocks[0](torch.flatten(x, 1)))
        torch.testing.assert_close(model(x), model.head(model.blocks[3](h)), rtol=0, atol=0)
    with pytest.raises(KeyError), deleted(model, ["blocks.0"]):
        pass
    assert layer_responses(model, x) == []
    assert [b.name for b in lesion_study(model, x, y, ks=[1], draws=1).blocks] == ["blocks.1", "blocks.2", "blocks.3"]


def test_response_sentences() -> None:
    assert response_sentences([("a", 1.0), ("b", 0.5)], [("a", 0.25), ("b", 0.25)]) == [
        "Mean std of a 3x3 layer's response: plain 0.75, residual 0.25.",
        "The residual net's layers respond less, as He et al. (2016, Fig. 7) found for residual functions.",
    ]
    assert response_sentences([("a", 0.2)], [("a", 0.4)])[1] == (
        "Here the residual net's layers respond more: the opposite of He et al. (2016, Fig. 7)."
    )
    assert response_sentences([("a", 1.04)], [("a", 1.0)])[1] == (
        "The two nets' layers respond about equally strongly (means within 5%)."
    )
    assert quieter([("a", 1.0)], [("a", 0.5)]) == "residual" and quieter([("a", 0.5)], [("a", 1.0)]) == "plain"
    assert quieter([("a", 1.04)], [("a", 1.0)]) == "same" and quieter([], [("a", 1.0)]) is None
    # a response that is not a finite number: its mean is said in words, and the nets are not ranked
    assert response_sentences([("a", float("nan"))], [("a", 1.0)]) == [
        "Mean std of a 3x3 layer's response: plain not finite, residual 1."
    ]


def test_robustness_to_deletion_is_consistent_with_the_ensemble_reading_not_proof_of_it():
    # Veit et al. 2016 read residual nets as ensemble-like collections of relatively shallow paths;
    # a net that keeps its accuracy when a block is deleted agrees with that reading, and no more:
    # its paths share the blocks' weights, so they are not independent networks.
    def study(base: float, single: float) -> LesionResult:
        blocks = tuple(BlockLesion(f"blocks.{i}", single, False) for i in range(4))
        return LesionResult(base, (*blocks, BlockLesion("blocks.4", 0.05, True)), ())

    robust, fragile = study(0.92, 0.90), study(0.90, 0.15)
    line = one_block_sentence(fragile, robust, ("plain-20", "residual-20"))
    assert "behaves like an ensemble" not in line
    assert "consistent with Veit et al.'s (2016, §4) reading" in line and "does not prove it" in line
    assert "ensemble-like collections of relatively shallow paths" in line and "not independent networks" in line
    assert "half of its 2^5 = 32" in line  # the numbers still come from the study
    assert "Veit" in one_block_sentence(robust, fragile, ("plain-20", "residual-20"))  # swapped: the opposite
    assert "ensemble" not in one_block_sentence(robust, fragile, ("plain-20", "residual-20"))
