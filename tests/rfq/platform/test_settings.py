"""Reading and validating the RFQ_* settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from rfq.platform.settings import Settings, SettingsError


def test_defaults_use_the_data_dir(tmp_path: Path) -> None:
    """With only RFQ_DATA_DIR set: SQLite in the data dir, embedded Redis, a kept secret."""
    settings = Settings.from_env({"RFQ_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'rfq.sqlite3'}"
    assert settings.embedded_redis and settings.redis_url is None
    assert len(settings.secret_key) >= 32
    assert Settings.from_env({"RFQ_DATA_DIR": str(tmp_path)}).secret_key == settings.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert settings.redis_prefix == "rfq:"


def test_postgresql_url_is_normalised_to_psycopg(tmp_path: Path) -> None:
    """postgresql:// URLs are driven through psycopg 3."""
    env = {"RFQ_DATA_DIR": str(tmp_path), "RFQ_DATABASE_URL": "postgresql://u@h/db"}
    assert Settings.from_env(env).database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RFQ_DATABASE_URL", "mysql://root@localhost/x"),
        ("RFQ_REDIS_URL", "http://localhost:6379"),
        ("RFQ_SECRET_KEY", "short"),
        ("RFQ_ALLOWED_ORIGINS", "evil.example"),
        ("RFQ_ALLOWED_ORIGINS", "https://ok.example/path"),
        ("RFQ_REDIS_PREFIX", "{bad}"),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, name: str, value: str) -> None:
    """A bad value raises SettingsError whose message names the variable."""
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({"RFQ_DATA_DIR": str(tmp_path), name: value})


def test_allowed_origins_are_parsed(tmp_path: Path) -> None:
    """RFQ_ALLOWED_ORIGINS is a comma-separated list; trailing slashes are dropped."""
    env = {"RFQ_DATA_DIR": str(tmp_path), "RFQ_ALLOWED_ORIGINS": "https://a.example/, http://b:8"}
    assert Settings.from_env(env).allowed_origins == ("https://a.example", "http://b:8")
