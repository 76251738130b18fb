"""The training loop: identical batches for twins, learning, divergence, stopping, streaming."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from resnet_viz.engine import train as train_module
from resnet_viz.engine.checkpoints import load_model, load_state_dict
from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig
from resnet_viz.engine.data import load_dataset
from resnet_viz.engine.experiment import build_twins, fit_to_data, run_twins
from resnet_viz.engine.history import History, Update
from resnet_viz.engine.models import build_model
from resnet_viz.engine.runs import RunStore, RunStoreError
from resnet_viz.engine.train import batch_order, lr_at, needs_layer_checks, total_steps, train


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig())


class Recorder(nn.Module):
    """Wraps a model and keeps a copy of every training batch it is shown."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.seen.append(x.detach().clone())
        return self.inner(x)

    def probe_layers(self):
        return self.inner.probe_layers()

    def probe_blocks(self):
        return self.inner.probe_blocks()


class NaNAfter(Recorder):
    """Produces NaN logits from training step `k` on: a model that diverges on cue."""

    def __init__(self, inner: nn.Module, k: int) -> None:
        super().__init__(inner)
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        return out * float("nan") if self.training and len(self.seen) >= self.k else out


def small(depth: int = 8, **kw) -> ModelConfig:
    return ModelConfig(depth=depth, width=4, **kw)


def test_twins_see_identical_batches_with_augmentation(digits) -> None:
    a, b = build_twins([small(residual=False), small()], seed=0)
    ra, rb = Recorder(a), Recorder(b)
    cfg = TrainConfig(steps=12, batch_size=32, probe_every=0)
    train([("plain", ra), ("residual", rb)], digits, cfg, augment=True)
    assert len(ra.seen) == len(rb.seen) == 12
    for xa, xb in zip(ra.seen, rb.seen):
        assert torch.equal(xa, xb)
    assert not torch.equal(ra.seen[0], ra.seen[1])


def test_batch_order_is_epoch_permutations() -> None:
    order = batch_order(n=10, batch=3, steps=7, seed=0)
    assert order.shape == (7, 3)
    first_epoch = order[:3].flatten()
    assert len(set(first_epoch.tolist())) == 9  # each image at most once per epoch (one dropped)
    assert torch.equal(order, batch_order(10, 3, 7, 0)) and not torch.equal(order, batch_order(10, 3, 7, 1))


def test_thirty_steps_reduce_the_loss(digits) -> None:
    torch.manual_seed(0)
    model = build_model(small(depth=14))
    hist = train([("residual", model)], digits, TrainConfig(steps=30, probe_every=0, log_every=5))[0]
    assert hist.step == list(range(1, 31))
    first, last = sum(hist.loss[:5]) / 5, sum(hist.loss[-5:]) / 5
    assert last < 0.7 * first
    assert hist.status == "finished" and hist.final["test_acc"] > 0.3


def test_huge_lr_diverges_and_keeps_earlier_metrics(digits) -> None:
    torch.manual_seed(0)
    model = build_model(small(bn=False))
    cfg = TrainConfig(steps=50, lr=1e6, schedule="constant", log_every=7, probe_every=0)
    hist = train([("plain", model)], digits, cfg)[0]
    assert hist.status == "diverged"
    assert hist.diverged_at is not None and 1 <= hist.diverged_at <= 50
    assert hist.step == list(range(1, hist.diverged_at))  # every step before the NaN, none after
    assert all(math.isfinite(v) for v in hist.loss)


def test_a_diverging_twin_does_not_stop_the_other(digits) -> None:
    a, b = build_twins([small(residual=False), small()], seed=0)
    bad, good = NaNAfter(a, k=5), Recorder(b)
    hists = train([("bad", bad), ("good", good)], digits, TrainConfig(steps=20, log_every=3, probe_every=4))
    assert hists[0].status == "diverged" and hists[0].diverged_at == 5  # 5th batch gives NaN
    assert hists[0].step == [1, 2, 3, 4]
    assert hists[1].status == "finished" and hists[1].step[-1] == 20 and len(good.seen) == 20
    assert len(bad.seen) < 10  # it stopped being trained soon after


def test_stop_check_ends_the_run_as_stopped(digits) -> None:
    models = list(zip(["p", "r"], build_twins([small(residual=False), small()], seed=0)))
    forwards = []
    models[0][1].blocks[0].register_forward_hook(lambda *_: forwards.append(1))
    # Stop once p's second step has begun its forward pass: it lands inside step 2, before p's
    # update, so both twins keep step 1 only.
    hists = train(models, digits, TrainConfig(steps=100, probe_every=0), should_stop=lambda: len(forwards) >= 2)
    for h in hists:
        assert h.status == "stopped" and h.step == [1]


def test_stop_lands_inside_the_forward_pass_at_the_next_layer(digits, monkeypatch) -> None:
    # A depth-110 step takes seconds on a CPU: a long step is checked at every weighted layer.
    monkeypatch.setattr(train_module, "LAYER_CHECK_MACS", 0)  # this small step counts as long
    torch.manual_seed(0)
    model = build_model(fit_to_data(small(depth=20), digits))
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    ran = []
    layers = [layer for _, layer in model.probe_layers()]
    for i, layer in enumerate(layers):
        layer.register_forward_hook(lambda *_, i=i: ran.append(i))  # registered first: runs before the check
    [h] = train([("m", model)], digits, TrainConfig(steps=5, probe_every=0), should_stop=lambda: 3 in ran)
    assert h.status == "stopped" and not h.step
    assert ran == [0, 1, 2, 3]  # the 5th conv (the second block's first) never ran
    assert all(torch.equal(before[k], v) for k, v in model.named_parameters())
    assert sum(len(m._forward_hooks) for m in model.modules()) == len(layers)  # only the test's own hooks


def test_stop_lands_inside_the_backward_pass(digits, monkeypatch) -> None:
    monkeypatch.setattr(train_module, "LAYER_CHECK_MACS", 0)
    torch.manual_seed(0)
    model = build_model(fit_to_data(small(depth=20), digits))
    backward_started = []
    model.head.register_full_backward_hook(lambda *_: backward_started.append(1))
    [h] = train([("m", model)], digits, TrainConfig(steps=5, probe_every=0), should_stop=lambda: bool(backward_started))
    assert h.status == "stopped" and not h.step
    # Stopped at the last conv's output gradient: no conv received a gradient, the head did.
    assert all(layer.weight.grad is None for name, layer in model.probe_layers() if name != "head")
    assert model.head.weight.grad is not None


def test_a_short_step_is_checked_between_phases_without_hooks(digits) -> None:
    # ResNet-20 on the digits, ~10 ms a step: per-layer hooks would cost it a few percent.
    torch.manual_seed(0)
    model = build_model(fit_to_data(small(depth=20), digits))
    hooks_seen: list[int] = []

    def stop() -> bool:
        hooks_seen.append(sum(len(m._forward_hooks) for m in model.modules()))
        return len(hooks_seen) >= 4  # before step 1, after its forward, after its backward, before step 2

    [h] = train([("m", model)], digits, TrainConfig(steps=5, probe_every=0), should_stop=stop)
    assert h.status == "stopped" and h.step == [1]
    assert hooks_seen == [0, 0, 0, 0]


def test_which_steps_get_per_layer_stop_checks(digits) -> None:
    shapes = load_dataset(DataConfig(name="shapes", limit=64))
    big = build_model(fit_to_data(ModelConfig(depth=110, width=16), shapes))  # 6.5e10 MACs at batch 256
    assert needs_layer_checks(big, shapes, 256)
    assert needs_layer_checks(big, shapes, 1)  # 2.53e8 MACs for one image: over the 2.5e8 line
    resnet20 = build_model(fit_to_data(ModelConfig(depth=20, width=16), shapes))
    assert not needs_layer_checks(resnet20, shapes, 6)  # 4.06e7 per image: 6 are under the line
    assert needs_layer_checks(resnet20, shapes, 7)
    small_net = build_model(fit_to_data(small(depth=20), digits))
    assert not needs_layer_checks(small_net, digits, 64)
    assert needs_layer_checks(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), digits, 64)  # unknown size: checked


def test_probes_stream_and_match_returned_history(digits) -> None:
    received: dict[str, History] = {}

    def on_update(u: Update) -> None:
        received.setdefault(u.model, History(u.model)).apply(u)

    models = list(zip(["plain", "residual"], build_twins([small(residual=False), small()], seed=0)))
    hists = train(models, digits, TrainConfig(steps=25, probe_every=10, log_every=4), on_update=on_update)
    for h in hists:
        mirror = received[h.name]
        assert mirror.step == h.step and mirror.loss == h.loss and mirror.status == h.status
        assert mirror.grad_norm == h.grad_norm and mirror.eval == h.eval
        assert h.probe_step == [1, 10, 20]
        assert all(len(row) == 8 for row in h.grad_norm)  # depth 8: 8 weighted layers
        assert all(len(row) == 3 for row in h.act_std)
    assert len(hists[0].identity_grad[0]) == 0 and len(hists[1].identity_grad[0]) == 3
    # End-of-epoch test evaluations: digits has 1437 training images -> 22 steps of 64 per epoch.
    assert [e["step"] for e in hists[1].eval] == [22, 25]


def test_lr_schedule() -> None:
    cfg = TrainConfig(steps=100, lr=0.1, warmup_steps=10)
    assert lr_at(1, cfg, 100) == pytest.approx(0.01) and lr_at(10, cfg, 100) == pytest.approx(0.01)
    assert lr_at(11, cfg, 100) == pytest.approx(0.1)
    assert lr_at(100, cfg, 100) < 0.001
    assert lr_at(50, TrainConfig(schedule="constant"), 100) == 0.1


def test_epochs_set_the_step_count() -> None:
    assert total_steps(TrainConfig(epochs=2, batch_size=64), 1437) == 44
    assert total_steps(TrainConfig(steps=33), 1437) == 33


def test_run_twins_stores_runs_that_reload(tmp_path, digits) -> None:
    store = RunStore(tmp_path)
    cfgs = [ModelConfig(depth=8, width=4, residual=False), ModelConfig(depth=8, width=4)]
    # On the CPU in float32: the reload below recomputes the stored accuracy exactly (on a GPU the
    # stored figure comes from bf16 autocast and may differ by an image).
    results = run_twins(
        cfgs, DataConfig(), TrainConfig(steps=6, probe_every=3, device="cpu"), store=store, dataset=digits
    )
    assert [r.config.kind for r in results] == ["plain", "residual"]
    infos = {i.run_id: i for i in store.list()}
    x = digits.x_test[:16]
    for r in results:
        info = infos[r.run_id]
        assert info.status == "finished" and info.group is not None
        assert info.model == r.config
        metrics = store.load_metrics(r.run_id)
        assert metrics["loss"] == r.history.loss
        reloaded = load_model(store, r.run_id)
        s = r.summary()
        assert s["params"] == sum(p.numel() for p in reloaded.parameters())
        assert 0.0 <= s["train_acc"] <= 1.0 and 0.0 <= s["test_acc"] <= 1.0
        # the stored weights reproduce the stored test accuracy
        acc = (reloaded(digits.x_test).argmax(1) == digits.y_test).float().mean().item()
        assert acc == pytest.approx(s["test_acc"], abs=1e-6)
        assert reloaded(x).shape == (16, 10)


def test_snapshot_steps_spread_evenly_from_init_to_end() -> None:
    from resnet_viz.engine.train import snapshot_steps

    assert snapshot_steps(200, 5) == [0, 50, 100, 150, 200]
    assert snapshot_steps(3, 5) == [0, 1, 2, 3]  # fewer steps than snapshots: no repeats
    assert snapshot_steps(10, 1) == [10] and snapshot_steps(10, 0) == [] and snapshot_steps(0, 5) == []


def test_stored_runs_keep_weight_snapshots_from_init_to_end(tmp_path, digits) -> None:
    store = RunStore(tmp_path)
    cfg = ModelConfig(depth=8, width=4)
    [result] = run_twins(
        [cfg], DataConfig(), TrainConfig(steps=8, probe_every=4, device="cpu"), store=store, dataset=digits
    )
    rid = result.run_id
    assert store.snapshot_steps(rid) == [0, 2, 4, 6, 8]
    [init] = build_twins([fit_to_data(cfg, digits)], seed=0)  # step 0 is the untrained model
    at0 = load_state_dict(store, rid, step=0)
    assert all(torch.equal(at0[k], v) for k, v in init.state_dict().items())
    final, at8 = load_state_dict(store, rid), load_state_dict(store, rid, step=8)
    assert all(torch.equal(final[k], at8[k]) for k in final)
    assert not all(torch.equal(at0[k], at8[k]) for k in final)
    assert load_model(store, rid, step=4).training is False
    with pytest.raises(RunStoreError, match="no weight snapshot at step 3"):
        load_state_dict(store, rid, step=3)


def test_stop_lands_inside_a_step_before_the_update(digits) -> None:
    # Polled at the start of the step (call 1) and again after the forward pass (call 2): a stop
    # there leaves the weights as they were, instead of finishing a step that may take seconds.
    torch.manual_seed(0)
    model = build_model(fit_to_data(small(), digits))
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) >= 2

    [h] = train([("m", model)], digits, TrainConfig(steps=50, probe_every=1), should_stop=stop)
    assert h.status == "stopped" and not h.step  # no step completed
    after = dict(model.named_parameters())  # BN's running statistics did move in the forward pass; no weight did
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()) == 0  # probe cleaned up


def test_a_run_whose_weights_end_non_finite_is_diverged_not_finished(digits) -> None:
    # Every step's loss can be finite while the last update overflows the weights (lr 1e9): the
    # full training-set loss at the end is NaN, and the run must say it diverged.
    torch.manual_seed(0)
    model = build_model(fit_to_data(small(), digits))
    with torch.no_grad():
        model.head.weight.fill_(float("nan"))
    [h] = train([("m", model)], digits, TrainConfig(steps=1, lr=1e-12, probe_every=0))
    assert h.status == "diverged" and h.diverged_at == 1


def test_a_history_view_is_a_copy_that_later_updates_do_not_reach() -> None:

    h = History("plain-8")
    h.apply(Update("plain-8", "status", {"status": "running", "layer_names": ["a", "b"]}))
    h.apply(Update("plain-8", "steps", {"step": [1], "loss": [2.0], "acc": [0.1], "lr": [0.1]}))
    h.apply(Update("plain-8", "probe", {"step": 1, "grad_norm": [1.0, 2.0]}))
    v = h.view()
    assert v == h and v is not h
    h.apply(Update("plain-8", "steps", {"step": [2], "loss": [1.0], "acc": [0.5], "lr": [0.1]}))
    h.apply(Update("plain-8", "probe", {"step": 2, "grad_norm": [3.0, 4.0]}))
    h.apply(Update("plain-8", "status", {"status": "finished", "final": {"train_loss": 1.0}}))
    assert v.step == [1] and v.loss == [2.0] and v.grad_norm == [[1.0, 2.0]]
    assert v.status == "running" and v.final == {}
    v.loss.append(9.0)  # a page that edits its copy leaves the job's history alone
    assert h.loss == [2.0, 1.0]
