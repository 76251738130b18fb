"""Job bounds: the estimate against the built models and the issue's reproductions, the limits
from the environment, the sentences, and the queue refusing before anything trains."""

from __future__ import annotations

import pytest

from resnet_viz.engine import limits
from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig
from resnet_viz.engine.limits import JobTooLarge, Limits
from resnet_viz.engine.models import build_model, count_params
from resnet_viz.teaching.settings import TwinSettings

CPU = Limits(seconds=15 * 60, memory_bytes=11 * 2**30)


@pytest.mark.parametrize(
    "cfg",
    [
        ModelConfig(depth=20, width=16, in_channels=3, image_size=32),
        ModelConfig(depth=56, width=8, residual=False, bn=False),
        ModelConfig(depth=20, width=16, shortcut="B", in_channels=3, image_size=32),
        ModelConfig(arch="mlp", depth=5, width=32),
        ModelConfig(arch="mlp", depth=5, width=32, bn=False, residual=False),
    ],
)
def test_parameter_formula_equals_the_built_model(cfg: ModelConfig) -> None:
    assert limits.model_cost(cfg, cfg.in_channels, cfg.image_size).params == count_params(build_model(cfg))


def test_the_issues_job_is_refused_before_anything_trains() -> None:
    # /live?depth=110&width=64&batch_size=512&steps=100000 was accepted: first step 25 s.
    s = TwinSettings(depth=110, width=64, batch_size=512, steps=100_000)
    with pytest.raises(JobTooLarge, match="lower the steps") as exc:
        limits.check_job(s.model_configs(), s.data_config(), s.train_config(), limits=CPU)
    assert "RESNET_VIZ_MAX_JOB_MINUTES" in str(exc.value) and "days" in str(exc.value)
    shapes = TwinSettings(dataset="shapes", depth=110, width=64, batch_size=512, steps=10)
    with pytest.raises(JobTooLarge, match="memory.*lower the batch size"):
        limits.check_job(shapes.model_configs(), shapes.data_config(), shapes.train_config(), limits=CPU)


def test_the_defaults_and_the_demo_pass() -> None:
    s = TwinSettings()
    est = limits.check_job(s.model_configs(), s.data_config(), s.train_config(), limits=CPU)
    assert est.seconds < 120 and est.memory_bytes < 2**30
    shapes = TwinSettings(dataset="shapes", depth=56, steps=300)
    limits.check_job(shapes.model_configs(), shapes.data_config(), shapes.train_config(), limits=CPU)


def test_models_too_large_to_build_are_refused_by_formula() -> None:
    with pytest.raises(JobTooLarge, match="layers this app builds"):
        limits.check_model(ModelConfig(depth=20_000))
    with pytest.raises(JobTooLarge, match="parameters"):
        limits.check_model(ModelConfig(depth=20, width=100_000))
    limits.check_model(ModelConfig(depth=1202, width=16))  # ResNet-1202 is fine


def test_limits_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("RESNET_VIZ_MAX_JOB_MINUTES", "2")
    monkeypatch.setenv("RESNET_VIZ_MAX_JOB_MEMORY_MB", "100")
    lim = Limits.from_env()
    assert lim.seconds == 120 and lim.memory_bytes == 100 * 2**20
    monkeypatch.setenv("RESNET_VIZ_MAX_JOB_MINUTES", "nan")
    monkeypatch.delenv("RESNET_VIZ_MAX_JOB_MEMORY_MB")
    lim = Limits.from_env(gpu=True, available_bytes=8 * 2**30)
    assert lim.seconds == 3600 and lim.memory_bytes == 4 * 2**30  # defaults: 60 min on a GPU, half the memory


def test_a_press_is_bounded_as_a_whole() -> None:
    job = ([ModelConfig(depth=56)], DataConfig(), TrainConfig(steps=3000))
    one = limits.check_press([job], limits=CPU)[0]
    n = int(CPU.seconds // one.seconds) + 1
    with pytest.raises(JobTooLarge, match=f"These {n} runs would take"):
        limits.check_press([job] * n, limits=CPU)


def test_overdue_uses_the_measured_rate() -> None:
    assert limits.overdue(elapsed=10.0, step=10, total=100, limits=CPU) is None  # 100 s projected
    text = limits.overdue(elapsed=25.0, step=1, total=100_000, limits=CPU)
    assert text is not None and "25 s per step" in text and "days" in text
    assert limits.overdue(elapsed=0.0, step=0, total=10, limits=CPU) is None
