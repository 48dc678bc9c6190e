"""pretrain(): objectives, resume equivalence, non-finite abort, collapse flags, budget, checkpoints."""

import math

import pytest
import torch

from ssl_engine.encoders.image_cnn import ImageCNNConfig, ImageCNNEncoder
from ssl_engine.encoders.text_scratch import TextTransformerConfig, TextTransformerEncoder
from ssl_engine.ssl.checkpoint import list_checkpoints
from ssl_engine.ssl.trainer import (
    CheckpointMismatchError,
    NonFiniteLossError,
    PretrainConfig,
    pretrain,
)

torch.set_num_threads(1)

TEXTS = ["my card was declined", "where is my refund", "card not working abroad", "how do i top up",
         "the atm kept my card", "refund still pending", "top up failed twice", "card payment declined",
         "cancel my transfer", "transfer not arrived"]
TEXT_CONFIG = TextTransformerConfig(dim=16, n_heads=2, n_layers=1, vocab_size=32, hash_buckets=4, min_frequency=1)


def images(n=12, side=8, seed=0):
    return torch.randint(0, 256, (n, 3, side, side), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def make(objective):
    """A fresh, identically initialised encoder and its data, per objective."""
    if objective == "simclr":
        return ImageCNNEncoder(ImageCNNConfig(width=2, projection_dim=4), seed=0), images()
    return TextTransformerEncoder.from_corpus(TEXTS, TEXT_CONFIG, seed=0), TEXTS


def config(objective, **overrides):
    values = dict(objective=objective, epochs=2, batch_size=4, lr=1e-2, warmup_steps=2, seed=3, monitor_size=8)
    return PretrainConfig(**{**values, **overrides})


def weights(encoder):
    return {k: v.clone() for k, v in encoder.state_dict().items()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


class Crash(Exception):
    pass


@pytest.mark.parametrize("objective", ["simclr", "simcse", "mlm"])
def test_trains_and_reports(objective):
    encoder, data = make(objective)
    before = weights(encoder)
    calls = []
    result = pretrain(encoder, data, config(objective), on_progress=lambda *args: calls.append(args))

    n = len(data)
    assert result.steps_per_epoch == n // 4 and result.total_steps == result.steps == 2 * (n // 4)
    assert result.stopped_reason == "completed" and result.completed and result.resumed_from_step is None
    assert [c[:2] for c in calls] == [(s, result.total_steps) for s in range(1, result.total_steps + 1)]
    assert [c[2] for c in calls] == result.losses and all(math.isfinite(x) for x in result.losses)
    assert [h["epoch"] for h in result.history] == [1.0, 2.0]
    assert {"std_ratio", "rankme", "collapsed", "loss", "lr"} <= result.history[0].keys()
    assert any(not torch.equal(before[k], v) for k, v in encoder.state_dict().items())
    assert not encoder.training  # left in evaluation mode, ready to embed


def test_leaves_the_callers_rng_alone_and_is_deterministic():
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    a, data = make("simcse")
    pretrain(a, data, config("simcse"))
    torch.testing.assert_close(torch.rand(3), expected)
    b, _ = make("simcse")
    pretrain(b, data, config("simcse"))
    assert_same_weights(weights(a), weights(b))


@pytest.mark.parametrize("objective", ["simclr", "mlm", "simcse"])
def test_resume_after_a_crash_ends_at_the_same_weights(objective, tmp_path):
    reference, data = make(objective)
    uninterrupted = pretrain(reference, data, config(objective, epochs=3))

    crashing, _ = make(objective)

    def crash_at_step_5(step, total, loss):
        if step == 5:
            raise Crash

    resumable = config(objective, epochs=3, checkpoint_dir=str(tmp_path), checkpoint_every_steps=2)
    with pytest.raises(Crash):
        pretrain(crashing, data, resumable, on_progress=crash_at_step_5)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-000000002", "step-000000004"]

    resumed_encoder, _ = make(objective)  # a new process would start from a fresh encoder
    resumed = pretrain(resumed_encoder, data, resumable)
    assert resumed.resumed_from_step == 4 and resumed.steps == uninterrupted.steps
    assert_same_weights(weights(resumed_encoder), weights(reference))
    assert resumed.losses == uninterrupted.losses
    assert [h["rankme"] for h in resumed.history] == [h["rankme"] for h in uninterrupted.history]


def test_a_finished_run_is_not_trained_again(tmp_path):
    encoder, data = make("simcse")
    first = pretrain(encoder, data, config("simcse", checkpoint_dir=str(tmp_path)))
    again_encoder, _ = make("simcse")
    calls = []
    again = pretrain(again_encoder, data, config("simcse", checkpoint_dir=str(tmp_path)),
                     on_progress=lambda *a: calls.append(a))
    assert calls == [] and again.steps == first.steps and again.resumed_from_step == first.steps
    assert_same_weights(weights(again_encoder), weights(encoder))
    assert again.checkpoint == first.checkpoint


def test_resuming_under_another_config_is_refused(tmp_path):
    encoder, data = make("simcse")
    pretrain(encoder, data, config("simcse", checkpoint_dir=str(tmp_path)))
    with pytest.raises(CheckpointMismatchError, match="lr"):
        pretrain(make("simcse")[0], data, config("simcse", lr=5e-3, checkpoint_dir=str(tmp_path)))
    with pytest.raises(CheckpointMismatchError, match="data size"):
        pretrain(make("simcse")[0], data[:8], config("simcse", checkpoint_dir=str(tmp_path)))


def test_budget_stops_at_a_step_boundary_checkpoints_and_resumes(tmp_path):
    ticks = iter(range(10_000))
    fake_clock = lambda: float(next(ticks))  # noqa: E731 - one second per call

    encoder, data = make("simclr")
    budgeted = config("simclr", epochs=3, max_minutes=2.5 / 60, checkpoint_dir=str(tmp_path))
    result = pretrain(encoder, data, budgeted, clock=fake_clock)
    # start = 0; before each step the clock reads 1, 2 (< 2.5 s: step) then 3 (stop), mid-epoch.
    assert result.stopped_reason == "budget" and result.steps == 2 and not result.completed
    assert result.checkpoint.endswith("step-000000002")
    assert result.history[-1]["partial"] and result.history[-1]["step"] == 2

    reference, _ = make("simclr")
    pretrain(reference, data, config("simclr", epochs=3))
    resumed_encoder, _ = make("simclr")
    resumed = pretrain(resumed_encoder, data, config("simclr", epochs=3, max_minutes=60, checkpoint_dir=str(tmp_path)))
    assert resumed.stopped_reason == "completed" and resumed.resumed_from_step == 2
    assert_same_weights(weights(resumed_encoder), weights(reference))


def test_zero_budget_does_no_step():
    encoder, data = make("simcse")
    result = pretrain(encoder, data, config("simcse", max_minutes=0))
    assert result.steps == 0 and result.stopped_reason == "budget" and result.history == []


def test_nan_in_the_data_aborts_before_touching_the_weights():
    encoder, data = make("simclr")
    data = data.float() / 255
    data[0, 0, 0, 0] = float("nan")
    before = {k: v.clone() for k, v in encoder.named_parameters()}
    with pytest.raises(NonFiniteLossError, match="non-finite loss .* at step 0"):
        pretrain(encoder, data, config("simclr", batch_size=12))
    for name, value in encoder.named_parameters():
        assert torch.equal(value, before[name]), name


def test_exploding_learning_rate_aborts():
    encoder, data = make("mlm")
    with pytest.raises(NonFiniteLossError, match="non-finite loss"):
        pretrain(encoder, data, config("mlm", lr=1e36, min_lr=1e36, warmup_steps=0, epochs=5))


class ConstantEncoder(torch.nn.Module):
    """Maps every image to the same vector: the collapse the monitor must catch."""

    def __init__(self):
        super().__init__()
        self.vector = torch.nn.Parameter(torch.ones(8))

    def encode_tensors(self, images, train):
        return self.vector.expand(len(images), 8)


class RandomLinearEncoder(torch.nn.Module):
    """A fixed random projection of the pixels: spread out, not collapsed."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3 * 8 * 8, 8)

    def encode_tensors(self, images, train):
        return self.linear(images.flatten(1) - 0.5)


def test_collapse_is_flagged_for_a_constant_encoder_and_not_for_a_random_one(caplog):
    torch.manual_seed(0)
    data = images(n=16)
    cfg = config("simclr", epochs=1, lr=0.0, min_lr=0.0, monitor_size=16)
    with caplog.at_level("WARNING", logger="ssl_engine.ssl.trainer"):
        constant = pretrain(ConstantEncoder(), data, cfg)
    assert constant.collapsed and constant.history[-1]["std"] == pytest.approx(0.0, abs=1e-6)
    assert constant.history[-1]["rankme"] == pytest.approx(1.0, abs=1e-3)
    assert "collapse" in caplog.text

    random = pretrain(RandomLinearEncoder(), data, cfg)
    assert not random.collapsed and random.history[-1]["std_ratio"] > 0.5 and random.history[-1]["rankme"] > 4


class WrappedSentenceEncoder:
    """Shaped like text_pretrained.SentenceEncoder: not an nn.Module, its weights in `.module`."""

    def __init__(self):
        self.module = TextTransformerEncoder.from_corpus(TEXTS, TEXT_CONFIG, seed=0)

    def encode_tensors(self, texts, train):
        return self.module.encode_tensors(texts, train)


def test_an_encoder_that_keeps_its_module_in_an_attribute(tmp_path):
    wrapped = WrappedSentenceEncoder()
    before = weights(wrapped.module)
    result = pretrain(wrapped, TEXTS, config("simcse", checkpoint_dir=str(tmp_path)))
    assert result.completed and result.checkpoint is not None
    assert any(not torch.equal(before[k], v) for k, v in wrapped.module.state_dict().items())


def test_rejects_wrong_inputs():
    with pytest.raises(ValueError, match="images"):
        pretrain(make("simclr")[0], TEXTS, config("simclr"))
    with pytest.raises(ValueError, match="strings"):
        pretrain(make("simcse")[0], "one long string", config("simcse"))
    with pytest.raises(TypeError, match="masked language model"):
        pretrain(RandomLinearEncoder(), TEXTS, config("mlm"))
    with pytest.raises(ValueError, match="at least 2 items"):
        pretrain(make("simcse")[0], TEXTS[:1], config("simcse"))
    with pytest.raises(ValueError, match="objective"):
        PretrainConfig(objective="byol")
    with pytest.raises(ValueError, match="temperature"):
        PretrainConfig(temperature=0.0)


def test_config_round_trips_through_a_dict():
    cfg = config("simclr", augment={"crop_scale": [0.2, 1.0]})
    assert PretrainConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.augment.crop_scale == (0.2, 1.0)
    assert PretrainConfig(objective="simcse").effective_temperature == 0.05
    assert PretrainConfig(objective="simclr").effective_temperature == 0.5
