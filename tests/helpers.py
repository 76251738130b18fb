"""Small helpers several test modules share (imported as `helpers`: pytest puts tests/ on sys.path)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from torch import nn

from resnet_viz.teaching.settings import LIVE_LINK, SWEEP_LINK, SweepSettings, TwinSettings


def count_hooks(model: nn.Module) -> int:
    """Hooks still registered anywhere in the model (probes and analyses must leave none behind)."""
    total = 0
    for m in model.modules():
        for attr in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks"):
            total += len(getattr(m, attr, {}))
    return total


def from_query(query: Mapping[str, str | Sequence[str]]) -> tuple[TwinSettings, list[str]]:
    """The live page's settings from a URL query, and one sentence per dropped value."""
    link = LIVE_LINK.read(query)
    return link.settings, list(link.problems)


def to_query(settings: TwinSettings) -> dict[str, str]:
    """The live page's URL query for `settings` (single values only)."""
    return {k: v for k, v in LIVE_LINK.write(settings).items() if isinstance(v, str)}


def sweep_from_query(query: Mapping[str, str | Sequence[str]]) -> tuple[SweepSettings, list[str]]:
    """The degradation page's settings from its sw_* URL parameters, and the dropped values' sentences."""
    link = SWEEP_LINK.read(query)
    return link.settings, list(link.problems)


def stored_run(
    store, depth: int, residual: bool, seed: int, train_error: float, dataset: str = "digits", **model
) -> str:
    """A finished run in `store` whose final training error is `train_error` (%), written as the
    trainer writes one (config, metrics, status), without training: for the pooled class chart."""
    from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig
    from resnet_viz.engine.history import History

    cfg = ModelConfig(depth=depth, residual=residual, width=4, **model)
    acc = 1 - train_error / 100
    hist = History(
        name=cfg.name,
        step=[1, 2],
        loss=[2.0, 1.0],
        acc=[acc, acc],
        lr=[0.1, 0.1],
        status="finished",
        final={"train_loss": 1.0, "train_acc": acc, "test_loss": 1.0, "test_acc": acc},
    )
    run_id = store.create(cfg, DataConfig(name=dataset), TrainConfig(steps=2, seed=seed), group=f"g{depth}{seed}")
    store.save_metrics(run_id, hist.to_dict())
    store.set_status(run_id, "finished", step=2)
    return run_id


def chart_specs(at) -> list[str]:
    """The JSON spec of every chart on an AppTest page, in page order: st.plotly_chart's and those
    of the live charts that redraw in place (resnet_viz/ui/live_plot.py, components v2)."""
    import json

    specs = []
    for node in at.get("plotly_chart") + at.get("bidi_component"):
        proto = node.proto
        if hasattr(proto, "spec"):
            specs.append(proto.spec)
        elif proto.component_name == "resnet_lab_live_plot":
            specs.append(json.loads(proto.json)["spec"])
    return specs
