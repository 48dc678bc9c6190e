"""`ProjectSettings`: the schema of Project.settings. Errors name the key."""

from __future__ import annotations

import dataclasses

import pytest
from django.core.exceptions import ValidationError

from labelops.projects.api.projects import project_settings_schema
from labelops.projects.models import Project
from labelops.projects.project_settings import ProjectSettings


def errors_of(data) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        ProjectSettings.from_dict(data)
    return caught.value.message_dict["settings"]


def test_empty_settings_are_the_defaults():
    assert ProjectSettings.from_dict(None) == ProjectSettings()
    assert ProjectSettings.from_dict({}).to_dict()["strategy"] == "auto"


def test_to_dict_round_trips():
    settings = ProjectSettings.from_dict({"batch_size": 20, "n_clusters": 8, "extra": {"note": "x"}})
    assert ProjectSettings.from_dict(settings.to_dict()) == settings


def test_unknown_keys_are_named():
    assert errors_of({"batch_sise": 10, "strategy": "margin", "colour": "red"}) == [
        "unknown setting(s): batch_sise, colour"
    ]


@pytest.mark.parametrize(
    "key,value",
    [
        ("batch_size", "100"),
        ("batch_size", 10.5),
        ("batch_size", True),  # bool is an int in Python, never here
        ("holdout_fraction", "0.1"),
        ("pretraining", 1),
        ("pretraining_epochs", None),
        ("strategy", 3),
        ("n_clusters", "8"),
        ("extra", []),
        ("text_encoder", None),
    ],
)
def test_wrong_types_are_named(key, value):
    (message,) = errors_of({key: value})
    assert message.startswith(f"{key} must be ")
    assert repr(value) in message


@pytest.mark.parametrize(
    "key,value",
    [
        ("batch_size", 0),
        ("batch_size", 100_001),
        ("holdout_fraction", 1.0),
        ("holdout_fraction", -0.1),
        ("pretraining_epochs", -1),
        ("n_clusters", 1),
        ("auto_round_every", 0),
        ("lease_minutes", 0),
        ("lease_minutes", 24 * 60 + 1),
        ("strategy", "clever"),
        ("fine_tune", "everything"),
        ("skip_policy", "ignore"),
        ("text_encoder", "  "),
    ],
)
def test_out_of_range_values_are_named(key, value):
    (message,) = errors_of({key: value})
    assert message.startswith(key)


@pytest.mark.parametrize(
    "data",
    [
        {"holdout_fraction": 0},  # an int where a float is meant is fine
        {"holdout_fraction": 0.99},
        {"n_clusters": None, "auto_round_every": None},
        {"n_clusters": 2, "auto_round_every": 1},
        {"lease_minutes": 1440, "batch_size": 100_000},
        {"strategy": "typiclust", "fine_tune": "contrastive", "skip_policy": "drop"},
    ],
)
def test_edge_values_are_accepted(data):
    ProjectSettings.from_dict(data)


def test_every_problem_is_reported_at_once():
    messages = errors_of({"batch_size": 0, "lease_minutes": "30", "strategy": "clever"})
    assert [m.split(" ")[0] for m in messages] == ["strategy", "batch_size", "lease_minutes"]


def test_the_model_field_reports_bad_settings_as_a_field_error():
    with pytest.raises(ValidationError) as caught:
        Project(name="x", settings={"batch_size": 0}).full_clean()
    assert "batch_size" in caught.value.message_dict["settings"][0]


def test_the_api_schema_describes_every_setting():
    schema = project_settings_schema()
    fields = {f.name: f for f in dataclasses.fields(ProjectSettings)}
    assert set(schema["properties"]) == set(fields)
    assert schema["additionalProperties"] is False
    assert schema["properties"]["batch_size"] == {"type": "integer", "default": 100}
    assert schema["properties"]["n_clusters"] == {"type": "integer", "nullable": True, "default": None}
    assert "margin" in schema["properties"]["strategy"]["enum"]


def test_the_strategy_enum_is_the_engines_registry_in_a_stable_order():
    # The names come from ssl_engine.active; their order is part of the published API schema.
    assert project_settings_schema()["properties"]["strategy"]["enum"] == [
        "auto", "random", "least_confidence", "margin", "entropy",
        "kcenter", "cluster_margin", "typiclust", "probcover",
    ]
