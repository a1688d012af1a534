"""The SSL/TLS form: a self-signed certificate, the operator's own files, or a certificate from an ACME CA
(Let's Encrypt unless another directory URL is given), each mode with its own fields."""

from __future__ import annotations

from dataclasses import replace

from mailtui.screens.widgets.fields import FieldRow
from mailtui.screens.widgets.toggles import RadioButton
from mailtui.screens.wizard.form import (
    FormPane,
    optional_check,
    path_check,
)
from textual import on
from textual.app import ComposeResult
from textual.widgets import RadioSet, Static

from mailtui.api.types import Preflight
from mailtui.model import validate
from mailtui.model.answers import MTA_STS_MODES, Answers, Tls

MODES = {"tls-self-signed": "self-signed", "tls-files": "files", "tls-acme": "acme"}  # radio button -> tls.mode
FIELD_MODE = {"tls.cert": "files", "tls.key": "files", "tls.email": "acme", "tls.server": "acme",
              "tls.mta_sts": "acme"}


def mta_sts_check(value: str) -> str | None:
    return validate.choice_problem(value.strip(), MTA_STS_MODES)


def acme_note(hostname: str) -> str:
    """What must be true before the CA can issue a certificate (shown while ACME is chosen)."""
    host = hostname.strip() or "the hostname"
    return (f"Needed: {host}'s A/AAAA records point at this machine (checked at the review), and port 80 "
            "is reachable from the internet for the CA's HTTP-01 challenge. mailtui opens 80 in its firewall; "
            "it cannot check from here that nothing outside blocks it.")


class TlsForm(FormPane):
    stage = "tls"
    heading = "6 · SSL/TLS"
    step_name = "tls"

    def compose(self) -> ComposeResult:
        yield from self.compose_head()
        with RadioSet(id="tls-mode", compact=True):
            # At most 50 characters: the labels stay whole beside a scrollbar.
            yield RadioButton("Self-signed, made now (you can replace it later)", True, id="tls-self-signed")
            yield RadioButton("Certificate and key files I already have", id="tls-files")
            yield RadioButton("From Let's Encrypt (ACME), renewed automatically", id="tls-acme")
        yield FieldRow("Certificate", "tls.cert", problem=path_check, placeholder="/etc/ssl/…/fullchain.pem")
        yield FieldRow("Private key", "tls.key", problem=path_check, placeholder="/etc/ssl/…/privkey.pem")
        yield FieldRow("Contact e-mail", "tls.email", problem=validate.address_problem,
                       placeholder="you@example.org (for the CA)")
        yield FieldRow("ACME directory", "tls.server", optional=True, placeholder="empty: Let's Encrypt",
                       problem=optional_check(validate.https_url_problem))
        # With the webmail: the MTA-STS policy its nginx serves (testing first; enforce once TLS reports are clean).
        yield FieldRow("MTA-STS mode", "tls.mta_sts", optional=True, placeholder="testing (later: enforce)",
                       problem=optional_check(mta_sts_check))
        yield Static(acme_note(""), id="tls-acme-note", classes="note")

    @property
    def mode(self) -> str:
        for button_id, mode in MODES.items():
            if self.query_one(f"#{button_id}", RadioButton).value:
                return mode
        return "self-signed"

    def _sync(self) -> None:
        """Only the chosen mode's fields take input (and show errors); the ACME note only with ACME."""
        mode = self.mode
        for f in self.fields():
            f.input.disabled = FIELD_MODE.get(f.key) != mode
            if f.input.disabled:
                f.show_error(None)
        self.query_one("#tls-acme-note").display = mode == "acme"

    def show_hostname(self, hostname: str) -> None:
        """The hostname typed on the Postfix form, named in the ACME note."""
        self.query_one("#tls-acme-note", Static).update(acme_note(hostname))

    def load(self, a: Answers, pf: Preflight | None = None) -> None:
        button = next((b for b, mode in MODES.items() if mode == a.tls.mode), "tls-self-signed")
        self.query_one(f"#{button}", RadioButton).value = True
        for f in self.fields():
            f.value = getattr(a.tls, f.key.split(".")[1])
        self.show_hostname(a.hostname)
        self._sync()

    @on(RadioSet.Changed)
    def mode_changed(self) -> None:
        self._sync()

    def _v(self, key: str) -> str:
        f = self.field_for(key)
        assert f is not None, key
        return f.value.strip()

    def store(self, a: Answers) -> Answers:
        """The chosen mode and its fields; the other modes' settings are emptied (the answers refuse them).
        server_ca (a test CA's own certificate, set in an answers file) is not on the form: it stays as
        loaded while the mode is ACME. The MTA-STS mode left empty is the default, testing."""
        none = {"cert": "", "key": "", "email": "", "server": "", "server_ca": "", "mta_sts": Tls().mta_sts}
        mode = self.mode
        if mode == "files":
            return replace(a, tls=replace(a.tls, **{**none, "mode": "files", "cert": self._v("tls.cert"),
                                                    "key": self._v("tls.key")}))
        if mode == "acme":
            return replace(a, tls=replace(a.tls, **{**none, "mode": "acme", "email": self._v("tls.email"),
                                                    "server": self._v("tls.server"),
                                                    "server_ca": a.tls.server_ca,
                                                    "mta_sts": self._v("tls.mta_sts") or Tls().mta_sts}))
        return replace(a, tls=replace(a.tls, **{**none, "mode": "self-signed"}))
