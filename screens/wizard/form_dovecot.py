"""The Dovecot form: whether it serves POP3 besides IMAP, and what Dovecot will do, in words."""

from __future__ import annotations

from dataclasses import replace

from mailtui.screens.widgets.toggles import Checkbox
from mailtui.screens.wizard.form import FormPane
from textual import on
from textual.app import ComposeResult
from textual.widgets import Static

from mailtui.api.types import Preflight
from mailtui.model.answers import Answers


class DovecotForm(FormPane):
    stage = "dovecot"
    heading = "5 · Dovecot"
    step_name = "dovecot"

    def compose(self) -> ComposeResult:
        yield from self.compose_head()
        yield Checkbox("POP3 as well as IMAP (POP3S on 995; IMAP is always served)", False, id="cb-pop3",
                       compact=True)
        yield Static("", id="dovecot-facts", classes="facts")

    def load(self, a: Answers, pf: Preflight | None = None) -> None:
        self.version = (pf.dovecot_version if pf else None) or "not installed yet (the packages step installs it)"
        self.query_one("#cb-pop3", Checkbox).value = a.services.pop3
        self._facts(a.services.pop3)

    @on(Checkbox.Changed, "#cb-pop3")
    def pop3_toggled(self, event: Checkbox.Changed) -> None:
        self._facts(event.value)

    def _facts(self, pop3: bool) -> None:
        serves = "IMAPS 993 and POP3S 995" if pop3 else "IMAPS 993 (no POP3)"
        self.query_one("#dovecot-facts", Static).update(
            f"• Mailboxes: /var/mail/vhosts/<domain>/<user>, owner vmail (uid 5000)\n"
            f"• Logins: checked against the database; only over TLS\n"
            f"• Serves: {serves}\n"
            f"• Delivery: Postfix hands mail over LMTP\n"
            f"• Dovecot here: {getattr(self, 'version', '?')}")

    def store(self, a: Answers) -> Answers:
        return replace(a, services=replace(a.services, pop3=self.query_one("#cb-pop3", Checkbox).value))
