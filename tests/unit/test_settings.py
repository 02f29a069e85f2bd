"""The config file, the COCKPIT_* variables over it, and the paths they are found at.

Every test runs with the XDG and COCKPIT_* variables of the machine cleared, so an
engineer's own config cannot change what the tests see.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit import locations
from cockpit.settings import CockpitSettings, SettingsError, load_settings
from cockpit.ui.keys import ACTIONS, KeymapError, keymap_path, load_keymap

DEFAULTS = {
    ("polling", "pane_every_s"): 2.0,
    ("polling", "pane_fast_every_s"): 0.5,
    ("polling", "watch_read_every_s"): 0.5,
    ("polling", "apart"): True,
    ("display", "stale_after_s"): 15.0,
    ("runner", "until_poll_s"): 5.0,
    ("runner", "progress_every_s"): 30.0,
    ("aws", "connect_timeout_s"): 2.0,
    ("aws", "read_timeout_s"): 5.0,
    ("aws", "max_attempts"): 3,
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("COCKPIT_") or name.startswith("XDG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def write(folder: Path, text: str) -> Path:
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path | None = None) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    return caught.value.problems


def value(settings: CockpitSettings, section: str, field: str) -> object:
    return getattr(getattr(settings, section), field)


# --- values -------------------------------------------------------------------------------


def test_no_file_gives_todays_constants(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "absent.toml")
    assert {key: value(settings, *key) for key in DEFAULTS} == DEFAULTS
    assert settings.keys == {}


def test_every_field_says_what_it_does() -> None:
    for section in ("polling", "display", "runner", "aws"):
        model = type(getattr(CockpitSettings(), section))
        for name, field in model.model_fields.items():
            assert field.description and len(field.description) > 40, f"{section}.{name}"


def test_file_values(tmp_path: Path) -> None:
    path = write(tmp_path, "[polling]\npane_every_s = 1\n\n[aws]\nmax_attempts = 5\n"
                           '\n[keys]\nrun_step = "x, f7"\n')
    settings = load_settings(path)
    assert settings.polling.pane_every_s == 1.0
    assert settings.polling.pane_fast_every_s == 0.5  # the rest of the section: defaults
    assert settings.aws.max_attempts == 5
    assert settings.keys == {"run_step": "x,f7"}


def test_env_overrides_the_file_field_by_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "[polling]\npane_every_s = 3\nwatch_read_every_s = 1\n")
    monkeypatch.setenv("COCKPIT_POLLING__PANE_EVERY_S", "1")
    monkeypatch.setenv("COCKPIT_RUNNER__PROGRESS_EVERY_S", "60")
    settings = load_settings(path)
    assert settings.polling.pane_every_s == 1.0
    assert settings.polling.watch_read_every_s == 1.0  # the file's, untouched by the variable
    assert settings.runner.progress_every_s == 60.0


def test_env_alone_and_a_key_binding_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COCKPIT_POLLING__PANE_EVERY_S", "1")
    monkeypatch.setenv("COCKPIT_KEYS__RUN_STEP", "x")
    settings = load_settings()
    assert settings.polling.pane_every_s == 1.0
    assert settings.keys == {"run_step": "x"}
    assert CockpitSettings().polling.pane_every_s == 1.0  # the model reads them by itself


def test_other_cockpit_variables_are_not_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COCKPIT_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("COCKPIT_REQUIRE_ODBC", "1")
    assert load_settings() == CockpitSettings()


# --- problems, where they are -------------------------------------------------------------


def test_an_unknown_key_is_refused_at_its_line_with_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "# tuned for the DR site\n[polling]\npane_every_s = 1\n"
                           "pane_evry_s = 3\n")
    assert problems(path) == [
        f"{path}:4: unknown key 'pane_evry_s' in [polling] (did you mean 'pane_every_s'?)"
    ]


def test_an_unknown_section_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "[display]\nstale_after_s = 20\n\n[poling]\npane_every_s = 1\n")
    assert problems(path) == [
        f"{path}:4: unknown key 'poling' in the config (did you mean 'polling'?)"
    ]


def test_a_wrong_type_is_refused_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[runner]\nuntil_poll_s = 5\nprogress_every_s = "often"\n'
                           "\n[display]\nstale_after_s = true\n")
    assert problems(path) == [
        f'{path}:3: runner.progress_every_s must be a number, not "often"',
        f"{path}:6: display.stale_after_s must be a number, not true",
    ]


@pytest.mark.parametrize(("toml", "message"), [
    ("[polling]\npane_every_s = 0", "polling.pane_every_s must be at least 0.1, not 0"),
    ("[aws]\nread_timeout_s = -1", "aws.read_timeout_s must be at least 0.1, not -1"),
    ("[aws]\nmax_attempts = 50", "aws.max_attempts must be at most 10, not 50"),
    ("[aws]\nmax_attempts = 2.5", "aws.max_attempts must be a whole number, not 2.5"),
    ("[display]\nstale_after_s = nan", "display.stale_after_s must be a finite number, not nan"),
    ("[aws]\nread_timeout_s = inf", "aws.read_timeout_s must be a finite number, not inf"),
    ("polling = 3", "polling must be a table, not 3"),
])
def test_bad_numbers_are_refused(tmp_path: Path, toml: str, message: str) -> None:
    path = write(tmp_path, toml + "\n")
    assert problems(path) == [f"{path}:{toml.count(chr(10)) + 1}: {message}"]


def test_bad_toml_is_refused_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[polling]\npane_every_s = 1\nwatch_read_every_s =\n")
    [problem] = problems(path)
    assert problem.startswith(f"{path}:3: invalid TOML")


def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"[keys]\nrun_step = \"\xff\"\n")
    assert problems(path) == [f"{path}:2: not UTF-8 text: save the config as UTF-8"]


def test_an_unknown_binding_id_names_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, '[keys]\nrun_step = "x"\nrun_stp = "y"\n')
    [problem] = problems(path)
    assert problem.startswith(
        f"{path}:3: unknown binding id 'run_stp' in [keys] (did you mean 'run_step'?); known: "
    )
    assert all(action.id in problem for action in ACTIONS)


def test_an_empty_key_list_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[keys]\nadd_note = "a,,b"\n')
    assert problems(path) == [
        f'{path}:2: keys.add_note must be keys separated by commas, such as "x,f7", '
        'not "a,,b"'
    ]


def test_env_problems_name_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[polling]\npane_every_s = 1\n")
    monkeypatch.setenv("COCKPIT_POLLING__PANE_EVERY_S", "soon")
    monkeypatch.setenv("COCKPIT_AWS__RETRIES", "3")
    monkeypatch.setenv("COCKPIT_KEYS__NOPE", "x")
    found = problems(path)
    assert found[0] == 'COCKPIT_POLLING__PANE_EVERY_S: polling.pane_every_s must be a number, ' \
                       'not "soon"'
    assert "COCKPIT_AWS__RETRIES: unknown key 'retries' in [aws]" in found
    assert any(p.startswith("COCKPIT_KEYS__NOPE: unknown binding id 'nope'") for p in found)


def test_the_old_keys_variable_says_where_keys_went(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COCKPIT_KEYS", "/home/me/.config/cockpit/keys.toml")
    [problem] = problems()
    assert problem.startswith("COCKPIT_KEYS: no longer names a key file; put a [keys] table")


# --- the keymap, through settings ---------------------------------------------------------


def test_load_keymap_reads_the_keys_table_of_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, '[keys]\nrun_step = "x,f7"\n')
    monkeypatch.setenv("COCKPIT_CONFIG", str(path))
    assert keymap_path() == path
    assert load_keymap() == {"run_step": "x,f7"}
    assert load_keymap(tmp_path / "absent.toml") == {}


def test_a_bad_keymap_is_a_keymap_error(tmp_path: Path) -> None:
    path = write(tmp_path, '[keys]\nlaunch = "x"\n')
    with pytest.raises(KeymapError, match=r"config.toml:2: unknown binding id 'launch'"):
        load_keymap(path)


def test_binding_ids_are_checked_without_loading_textual(tmp_path: Path) -> None:
    """Settings are loaded where no screen is drawn (checks, scripts): no UI import there."""
    path = write(tmp_path, '[keys]\nrun_step = "x"\n')
    code = ("import sys\nfrom pathlib import Path\nfrom cockpit.settings import load_settings\n"
            f"assert load_settings(Path({str(path)!r})).keys == {{'run_step': 'x'}}\n"
            "assert 'textual' not in sys.modules, 'textual was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ))


# --- locations ----------------------------------------------------------------------------


def test_locations_follow_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert locations.config_dir() == tmp_path / "cfg" / "cockpit"
    assert locations.config_file() == tmp_path / "cfg" / "cockpit" / "config.toml"
    assert locations.state_dir() == tmp_path / "state" / "cockpit"
    assert locations.sessions_dir() == tmp_path / "state" / "cockpit" / "sessions"


def test_locations_fall_back_to_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/state")  # the spec: ignore a relative one
    assert locations.config_file() == home / ".config" / "cockpit" / "config.toml"
    assert locations.sessions_dir() == home / ".local" / "state" / "cockpit" / "sessions"


def test_cockpit_config_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("COCKPIT_CONFIG", str(tmp_path / "elsewhere.toml"))
    assert locations.config_file() == tmp_path / "elsewhere.toml"
    assert locations.config_dir() == tmp_path / "cfg" / "cockpit"
    write(tmp_path, "[display]\nstale_after_s = 30\n").rename(tmp_path / "elsewhere.toml")
    assert load_settings().display.stale_after_s == 30.0
