"""The Packages form: port 465, DKIM signing (rspamd), the spam filter with its scores and hourly limit, SRS, and
brute-force protection (fail2ban) with its numbers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mailtui.screens.widgets.fields import FieldRow
from mailtui.screens.widgets.toggles import Checkbox
from mailtui.screens.wizard.brute_force import protection_line
from mailtui.screens.wizard.form import (
    SECURITY_FIELDS,
    SPAM_SCORES,
    FormPane,
    score_value,
    security_check,
    spam_check,
)
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import Static

from mailtui.api.types import Preflight
from mailtui.model import validate
from mailtui.model.answers import Answers, Security, Spam


class PackagesForm(FormPane):
    stage = "packages"
    heading = "1 · Packages"
    step_name = "packages"

    def compose(self) -> ComposeResult:
        yield from self.compose_head()
        yield Static("", id="pkg-versions", classes="facts")
        yield Checkbox("Submission on port 465 too (implicit TLS)", True, id="cb-submissions",
                       compact=True)
        yield Checkbox("Sign outgoing mail with DKIM (rspamd)", True, id="cb-dkim", compact=True)
        yield Checkbox("Filter spam (rspamd, Redis)", True, id="cb-spam", compact=True)
        yield FieldRow("Refuse at", "spam.reject", problem=spam_check("reject"))
        yield FieldRow("Junk at", "spam.add_header", problem=spam_check("add_header"))
        yield FieldRow("Greylist at", "spam.greylist", problem=spam_check("greylist"))
        yield Checkbox("Greylist new senders (a retry later)", True, id="cb-greylisting",
                       compact=True)
        yield FieldRow("Hourly limit", "spam.hourly_limit", problem=spam_check("hourly_limit"))
        yield Checkbox("Rewrite forwarded mail's sender (SRS, postsrsd)", True, id="cb-srs", compact=True)
        yield Checkbox("Ban addresses after failed logins (fail2ban)", True, id="cb-fail2ban",
                       compact=True)
        yield FieldRow("Max retries", "security.max_retry", problem=security_check("max_retry"))
        yield FieldRow("Window (s)", "security.find_time", problem=security_check("find_time"))
        yield FieldRow("Ban time (s)", "security.ban_time", problem=security_check("ban_time"))
        yield Static("", id="f2b-summary")

    def on_mount(self) -> None:
        for name in SECURITY_FIELDS:
            self.watch(self._security_field(name).input, "value", self._show_protection, init=False)

    def load(self, a: Answers, pf: Preflight | None = None) -> None:
        self.query_one("#cb-submissions", Checkbox).value = a.services.submissions
        self.query_one("#cb-dkim", Checkbox).value = a.dkim.enabled
        self.query_one("#cb-spam", Checkbox).value = a.spam.enabled
        self.loaded_spam = a.spam
        self.query_one("#cb-greylisting", Checkbox).value = a.spam.greylisting
        for name in (*SPAM_SCORES, "hourly_limit"):
            self._spam_field(name).value = f"{getattr(a.spam, name):g}"
        self._sync_spam()
        self.query_one("#cb-srs", Checkbox).value = a.srs.enabled
        self.loaded_security = a.security
        self.query_one("#cb-fail2ban", Checkbox).value = a.security.fail2ban
        for name in SECURITY_FIELDS:
            self._security_field(name).value = str(getattr(a.security, name))
        self._sync_security()
        if pf is not None:
            def v(x: Any) -> str:
                return str(x) if x else "not installed"

            self.query_one("#pkg-versions", Static).update(
                f"Postfix: {v(pf.postfix_version)}   Dovecot: {v(pf.dovecot_version)}   "
                f"MariaDB: {v(pf.mariadb_version)}")

    def store(self, a: Answers) -> Answers:
        return replace(a, services=replace(
            a.services, submissions=self.query_one("#cb-submissions", Checkbox).value),
            security=self.security(a.security),
            dkim=replace(a.dkim, enabled=self.query_one("#cb-dkim", Checkbox).value),
            spam=self.spam(a.spam),
            srs=replace(a.srs, enabled=self.query_one("#cb-srs", Checkbox).value))

    def _spam_field(self, name: str) -> FieldRow:
        f = self.field_for(f"spam.{name}")
        assert f is not None, name
        return f

    def spam(self, base: Spam | None = None) -> Spam:
        """The spam filter as the form holds it. While it is off, numbers that would not do are left as they
        were (they are not used, and must not stop the install)."""
        base = base or getattr(self, "loaded_spam", None) or Spam()
        on_ = self.query_one("#cb-spam", Checkbox).value
        values: dict[str, float | int] = {}
        for name in (*SPAM_SCORES, "hourly_limit"):
            text = self._spam_field(name).value
            number = validate.whole_number(text) if name == "hourly_limit" else score_value(text)
            if not on_ and (number is None or spam_check(name)(text)):
                number = getattr(base, name)
            values[name] = number if number is not None else 0
        return replace(base, enabled=on_, greylisting=self.query_one("#cb-greylisting", Checkbox).value,
                       **values)

    def _sync_spam(self) -> None:
        on_ = self.query_one("#cb-spam", Checkbox).value
        self.query_one("#cb-greylisting", Checkbox).disabled = not on_
        for name in (*SPAM_SCORES, "hourly_limit"):
            f = self._spam_field(name)
            f.input.disabled = not on_ or (name == "greylist" and not self.query_one("#cb-greylisting",
                                                                                  Checkbox).value)
            if f.input.disabled:
                f.show_error(None)

    @on(Checkbox.Changed, "#cb-spam")
    @on(Checkbox.Changed, "#cb-greylisting")
    def spam_toggled(self) -> None:
        self._sync_spam()

    def _security_field(self, name: str) -> FieldRow:
        f = self.field_for(f"security.{name}")
        assert f is not None, name
        return f

    def security(self, base: Security | None = None) -> Security:
        """The brute-force option as the form holds it. While it is off, numbers that would not do are
        left as they were (they are not used, and must not stop the install)."""
        base = base or getattr(self, "loaded_security", None) or Security()
        on_ = self.query_one("#cb-fail2ban", Checkbox).value
        values: dict[str, int] = {}
        for name in SECURITY_FIELDS:
            f = self._security_field(name)
            number = validate.whole_number(f.value)
            if not on_ and security_check(name)(f.value):
                number = getattr(base, name)
            values[name] = number if number is not None else 0
        return replace(base, fail2ban=on_, **values)

    def _sync_security(self) -> None:
        on_ = self.query_one("#cb-fail2ban", Checkbox).value
        for name in SECURITY_FIELDS:
            f = self._security_field(name)
            f.input.disabled = not on_
            if not on_:
                f.show_error(None)
        self._show_protection()

    def _show_protection(self, _value: object = None) -> None:
        security = self.security()
        if security.fail2ban and any(security_check(n)(self._security_field(n).value) for n in SECURITY_FIELDS):
            text = "→ fix the numbers above"
        else:
            text = protection_line(security)
        self.query_one("#f2b-summary", Static).update(Text(text))

    @on(Checkbox.Changed, "#cb-fail2ban")
    def fail2ban_toggled(self) -> None:
        self._sync_security()
