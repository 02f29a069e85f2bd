"""state.json, as watchers read it: every pane's latest view, with every secret masked,
including secrets registered after a view was first written."""

from __future__ import annotations

import json
from pathlib import Path

from cockpit.audit.redact import MASK, Redactor
from cockpit.runner.publish import StatePublisher


def _published(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_a_secret_registered_after_a_view_was_published_is_masked_in_the_next(
        tmp_path: Path) -> None:
    redactor = Redactor()
    publisher = StatePublisher(tmp_path / "state.json", redactor)
    publisher.set_pane("apps", {"rows": [["oms-app-01", "db=Pwd-Of-Orders-7"]]})
    publisher.publish()
    assert "Pwd-Of-Orders-7" in (tmp_path / "state.json").read_text(encoding="utf-8")

    redactor.add_secret("Pwd-Of-Orders-7")
    publisher.publish()  # the same view object, published again

    text = (tmp_path / "state.json").read_text(encoding="utf-8")
    assert "Pwd-Of-Orders-7" not in text
    assert _published(tmp_path / "state.json")["panes"] == {
        "apps": {"rows": [["oms-app-01", f"db={MASK}"]]}}


def test_each_publish_shows_each_panes_latest_view_masked(tmp_path: Path) -> None:
    redactor = Redactor()
    redactor.add_secret("s3cr3t-token-value")
    publisher = StatePublisher(tmp_path / "state.json", redactor)
    publisher.set_pane("dns", {"rows": [["orders", "10.0.0.1"]]})
    publisher.set_pane("apps", {"rows": [["oms-app-01", "ok"]]})
    publisher.update(step="switch-dns")
    publisher.publish()
    publisher.set_pane("apps", {"rows": [["oms-app-01", "key s3cr3t-token-value"]],
                                "password": "hunter22"})
    publisher.publish()

    published = _published(tmp_path / "state.json")
    assert published["step"] == "switch-dns"
    assert published["panes"] == {
        "dns": {"rows": [["orders", "10.0.0.1"]]},
        "apps": {"rows": [["oms-app-01", f"key {MASK}"]], "password": MASK}}


def test_every_kind_of_secret_in_the_runners_fields_is_masked(tmp_path: Path) -> None:
    redactor = Redactor()
    redactor.add_secret("Pässwörd-Ölkännchen-9")  # escaped by JSON only when asked to
    publisher = StatePublisher(tmp_path / "state.json", redactor)
    publisher.update(
        steps={"restore": {"outputs": {"note": "sa login Pässwörd-Ölkännchen-9 used"},
                           "dsn": "Driver=ODBC;Server=oms;UID=sa;PWD=Rest0re-Night;"},
               "mirror": {"outputs": {"url": "https://ops:Url-Pass-42@mirror.example/s"}},
               "Pässwörd-Ölkännchen-9": {"status": "done"}},
        driver={"user": "ana", "api_token": "tok-123456789"},
        plan="OMS cutover — Filiale Köln")
    publisher.publish()

    text = (tmp_path / "state.json").read_text(encoding="utf-8")
    for secret in ("Pässwörd-Ölkännchen-9", "Rest0re-Night", "Url-Pass-42", "tok-123456789"):
        assert secret not in text, secret
    published = _published(tmp_path / "state.json")
    steps = published["steps"]
    assert isinstance(steps, dict)
    assert steps["restore"]["outputs"]["note"] == f"sa login {MASK} used"
    assert MASK in steps and steps["mirror"]["outputs"]["url"].startswith("https://ops:")
    assert published["driver"] == {"user": "ana", "api_token": MASK}
    assert published["plan"] == "OMS cutover — Filiale Köln"  # nothing to mask: as it was
