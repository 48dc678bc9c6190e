"""Settings read from the environment fail loudly on bad values and default safely."""

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from labelops import settings as labelops_settings


def test_envbool_accepts_the_usual_spellings(monkeypatch):
    for raw, expected in [("1", True), ("true", True), ("On", True), ("0", False), ("no", False), ("", False)]:
        monkeypatch.setenv("SOME_FLAG", raw)
        assert labelops_settings.envbool("SOME_FLAG", "0") is expected


def test_envbool_names_the_variable_on_bad_values(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG='maybe' is not a boolean"):
        labelops_settings.envbool("SOME_FLAG", "0")


def test_envint_checks_type_and_minimum(monkeypatch):
    monkeypatch.setenv("SOME_LIMIT", "12x")
    with pytest.raises(ImproperlyConfigured, match="SOME_LIMIT='12x' is not an integer"):
        labelops_settings.envint("SOME_LIMIT", 5)
    monkeypatch.setenv("SOME_LIMIT", "0")
    with pytest.raises(ImproperlyConfigured, match="SOME_LIMIT=0 must be at least 1"):
        labelops_settings.envint("SOME_LIMIT", 5, minimum=1)
    monkeypatch.delenv("SOME_LIMIT")
    assert labelops_settings.envint("SOME_LIMIT", 5) == 5


def test_secret_key_file_is_created_once_and_reused(tmp_path):
    path = tmp_path / "nested" / "secret_key"
    first = labelops_settings.secret_key_from_file(path)
    assert len(first) >= 50
    assert path.stat().st_mode & 0o777 == 0o600
    assert labelops_settings.secret_key_from_file(path) == first


def _settings_in_subprocess(env_overrides: dict[str, str], expression: str) -> subprocess.CompletedProcess:
    """Import the settings module fresh, with a given environment."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "ALLOWED_HOSTS", "SECRET_KEY"}}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-c", f"import labelops.settings as s; print({expression})"],
        env=env, capture_output=True, text=True, timeout=60,
    )


def test_defaults_are_production_safe():
    result = _settings_in_subprocess({}, "s.DEBUG, s.ALLOWED_HOSTS, s.SECRET_KEY_IS_EPHEMERAL")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False ['localhost', '127.0.0.1', '[::1]'] True"


def test_bad_database_url_stops_start_up_naming_it():
    result = _settings_in_subprocess({"DATABASE_URL": "nonsense://x"}, "1")
    assert result.returncode != 0
    assert "DATABASE_URL='nonsense://x' is not a database URL" in result.stderr
