"""Configuration from BLOG_* variables, and refusing to run production on a weak secret."""

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from blog import cli
from blog.settings import DEFAULT_SECRET_KEY, Settings, get_settings


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BLOG_ENVIRONMENT", "BLOG_SECRET_KEY", "BLOG_CORS_ORIGINS", "BLOG_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()


def test_defaults_work_out_of_the_box() -> None:
    settings = Settings(_env_file=None)

    assert settings.database_url.startswith("sqlite:///")
    assert settings.access_token_minutes == 15
    assert settings.refresh_token_days == 14
    assert settings.bcrypt_rounds == 12


def test_reads_prefixed_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLOG_ACCESS_TOKEN_MINUTES", "5")
    monkeypatch.setenv("BLOG_CORS_ORIGINS", "http://localhost:5173, https://app.example")
    monkeypatch.setenv("BLOG_ALLOW_TENANT_SIGNUP", "false")

    settings = Settings(_env_file=None)

    assert settings.access_token_minutes == 5
    assert settings.cors_origins == ["http://localhost:5173", "https://app.example"]
    assert settings.allow_tenant_signup is False


@pytest.mark.parametrize("secret", [DEFAULT_SECRET_KEY, "short"])
def test_production_refuses_default_or_weak_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="BLOG_SECRET_KEY"):
        Settings(_env_file=None, environment="production", secret_key=secret)  # type: ignore[arg-type]


def test_production_accepts_a_strong_secret() -> None:
    settings = Settings(
        _env_file=None,
        environment="production",
        secret_key="x" * 48,  # type: ignore[arg-type]
    )

    assert settings.environment == "production"


def test_cli_explains_why_it_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLOG_ENVIRONMENT", "production")

    result = CliRunner().invoke(cli.app, ["serve"])

    assert result.exit_code == 2
    assert "BLOG_SECRET_KEY" in result.output
    assert "Traceback" not in result.output


def test_secret_never_appears_in_repr() -> None:
    settings = Settings(_env_file=None, secret_key="super-secret-value-123")  # type: ignore[arg-type]

    assert "super-secret-value-123" not in repr(settings)
