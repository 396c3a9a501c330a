"""Settings: packaged defaults < ./tuner.yml < TUNER_* environment < explicit overrides; the shipped file."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tuner.errors import ConfigError
from tuner.settings import Settings, default_values, load_settings

REPO = Path(__file__).resolve().parents[2]


def test_configs_tuner_yml_is_the_packaged_defaults_file() -> None:
    link = REPO / "configs" / "tuner.yml"
    assert link.is_symlink()
    assert link.resolve() == (REPO / "tuner" / "defaults.yml").resolve()


def test_defaults_file_documents_every_setting_and_nothing_else() -> None:
    fields = {f.name for f in dataclasses.fields(Settings)} - {"sources"}
    assert set(default_values()) == fields
    text = (REPO / "tuner" / "defaults.yml").read_text()
    lines = text.splitlines()
    for key in fields:  # each key has a comment right above it (or above its group)
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
        assert any(lines[j].startswith("#") for j in range(max(0, index - 4), index)), key


def test_defaults_yml_alone_holds_the_defaults() -> None:
    """The dataclass kept a second copy of the defaults, which disagreed with defaults.yml on source_patterns and
    stdout_metrics_pattern (issue 31): it now has none, so the two cannot disagree, and what load_settings gives
    for a key nobody set is defaults.yml's value, typed."""
    own = [f.name for f in dataclasses.fields(Settings)
           if f.name != "sources" and (f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING)]
    assert own == []
    with pytest.raises(TypeError):
        Settings()  # type: ignore[call-arg]


def test_every_default_loads_as_defaults_yml_writes_it(workdir: Path) -> None:
    settings = load_settings(environ={})
    for key, value in default_values().items():
        loaded = getattr(settings, key)
        assert loaded == (tuple(value) if isinstance(value, list) else value), key
        assert settings.sources[key] == "tuner/defaults.yml"
    assert settings.source_patterns[0] == "*.py" and "(?P<name>" in settings.stdout_metrics_pattern


def test_defaults_load_as_documented(workdir: Path) -> None:
    settings = load_settings()
    assert settings.runs_dir == "runs" and settings.echo is True and settings.artifacts_dir == "."
    assert settings.timeout_s is None and settings.heartbeat_s == 5.0
    assert "*.py" in settings.source_patterns
    assert settings.sources["runs_dir"] == "tuner/defaults.yml"


def _defaults_in_a_new_process(cache: Path) -> tuple[dict, bool]:
    """default_values() in a fresh Python with this cache folder, and whether PyYAML got imported."""
    code = ("import json, sys; from tuner.settings import default_values; "
            "print(json.dumps([default_values(), 'yaml' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(REPO)})
    values, imported = json.loads(out.stdout)
    return values, imported


def test_the_packaged_defaults_are_parsed_once_then_read_without_pyyaml(workdir: Path) -> None:
    """`tune ls` and a script's ls_runs read no YAML of their own: after the first command, the defaults come
    from a JSON copy in the cache folder (PyYAML's import is ~10 ms of a 0.15 s listing). A damaged copy, or
    one of another file, is parsed again; a cache folder that cannot be written only means parsing each time."""
    cache = workdir / "cache"
    truth = default_values()
    assert _defaults_in_a_new_process(cache) == (truth, True)  # the first: parsed, and the copy kept
    (copy,) = (cache / "tuner").glob("defaults-*.json")
    assert _defaults_in_a_new_process(cache) == (truth, False)  # then read from the copy
    copy.write_text("{not json")
    assert _defaults_in_a_new_process(cache) == (truth, True)
    data = json.loads(copy.read_text())  # written again whole
    data["key"][2] += 1  # as if defaults.yml had changed since
    data["values"]["runs_dir"] = "stale"
    copy.write_text(json.dumps(data))
    assert _defaults_in_a_new_process(cache) == (truth, True)
    assert json.loads(copy.read_text())["values"] == truth  # and replaced
    shutil.rmtree(cache / "tuner")
    (cache / "tuner").write_text("")  # no folder can be made there (root's permissions would not stop it)
    assert _defaults_in_a_new_process(cache) == (truth, True)
    assert _defaults_in_a_new_process(cache) == (truth, True)


def test_project_file_overrides_defaults(workdir: Path) -> None:
    (workdir / "tuner.yml").write_text("runs_dir: experiments\necho: false\n")
    settings = load_settings()
    assert (settings.runs_dir, settings.echo) == ("experiments", False)
    assert settings.sources["runs_dir"].endswith("tuner.yml")


def test_environment_overrides_project_file(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / "tuner.yml").write_text("runs_dir: experiments\ntimeout_s: 10\n")
    monkeypatch.setenv("TUNER_RUNS_DIR", "/data/runs")
    monkeypatch.setenv("TUNER_TIMEOUT_S", "30")
    monkeypatch.setenv("TUNER_ECHO", "false")
    settings = load_settings()
    assert (settings.runs_dir, settings.timeout_s, settings.echo) == ("/data/runs", 30.0, False)
    assert settings.sources["runs_dir"] == "TUNER_RUNS_DIR"


def test_string_settings_from_the_environment_stay_as_typed(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNER_RUNS_DIR", "2024")
    assert load_settings().runs_dir == "2024"


def test_explicit_overrides_win_and_none_means_not_given(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNER_RUNS_DIR", "from-env")
    assert load_settings(runs_dir="from-cli").runs_dir == "from-cli"
    assert load_settings(runs_dir=None).runs_dir == "from-env"


def test_unknown_key_names_the_file_and_suggests(workdir: Path) -> None:
    (workdir / "tuner.yml").write_text("run_dir: x\n")
    with pytest.raises(ConfigError, match=r"tuner.yml: unknown setting 'run_dir'; did you mean runs_dir"):
        load_settings()


def test_wrong_type_names_the_key_and_the_value(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / "tuner.yml").write_text("echo: sometimes\n")
    with pytest.raises(ConfigError, match=r"tuner.yml: setting 'echo' must be bool, got 'sometimes'"):
        load_settings()
    (workdir / "tuner.yml").unlink()
    monkeypatch.setenv("TUNER_RETRIES", "two")
    with pytest.raises(ConfigError, match="TUNER_RETRIES: setting 'retries' must be int"):
        load_settings()


def test_null_is_refused_for_required_settings(workdir: Path) -> None:
    (workdir / "tuner.yml").write_text("runs_dir: null\n")
    with pytest.raises(ConfigError, match="'runs_dir' cannot be null"):
        load_settings()


def test_project_file_that_is_not_a_mapping(workdir: Path) -> None:
    (workdir / "tuner.yml").write_text("- a\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_settings()


def test_load_settings_reads_tuner_yml_from_the_given_folder(workdir: Path) -> None:
    other = workdir / "project"
    other.mkdir()
    (other / "tuner.yml").write_text(yaml.safe_dump({"retries": 2}))
    assert load_settings(cwd=other).retries == 2
    assert load_settings().retries == 0
    assert os.getcwd() == str(workdir)


def test_exponent_notation_in_settings_is_a_number(workdir):
    from tuner.settings import load_settings

    assert load_settings(environ={"TUNER_TIMEOUT_S": "1e3"}).timeout_s == 1000.0
