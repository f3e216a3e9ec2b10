from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import load_app_config, load_settings
from rag.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bestbefore.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_config_resolves_source_paths_relative_to_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[[sources]]\nname = "docs"\npath = "handbook"\n\n[staleness]\ndefault = "90d"\n')
    app = load_app_config(path)
    assert app.sources[0].path == (tmp_path / "handbook").resolve()
    assert app.staleness.default == "90d"
    assert app.index.alpha == pytest.approx(0.5) or 0 <= app.index.alpha <= 1


def test_bad_value_names_key_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[index]\nchunk_tokens = 200\nalpha = 3\n")
    with pytest.raises(ConfigError) as err:
        load_app_config(path)
    assert "index.alpha" in str(err.value) and "line 3" in str(err.value)


def test_bad_duration_names_key_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[staleness]\ndefault = "1y"\n\n[staleness.paths]\n"runbooks/**" = "soon"\n')
    with pytest.raises(ConfigError) as err:
        load_app_config(path)
    assert "staleness.paths" in str(err.value) and "line 5" in str(err.value)


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[index]\nembeder = 'minilm'\n")
    with pytest.raises(ConfigError, match=r"index\.embeder.*|line 2"):
        load_app_config(path)


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[index\nalpha = 1\n")
    with pytest.raises(ConfigError, match="line 1"):
        load_app_config(path)


def test_settings_read_env_and_keep_secrets_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BESTBEFORE_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("COHERE_API_KEY", "sk-very-secret")
    settings = load_settings(cwd=tmp_path)
    assert settings.home == tmp_path / "h"
    assert settings.cohere_api_key is not None and settings.cohere_api_key.get_secret_value() == "sk-very-secret"
    assert "sk-very-secret" not in repr(settings) and "sk-very-secret" not in str(settings.model_dump())
    assert settings.ledger_url.startswith("sqlite:///")


def test_missing_explicit_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
