"""The Dovecot form: nothing to choose; what Dovecot will do, in words."""

from __future__ import annotations

from mailtui.screens.wizard.form import (
    FormPane,
)
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
        yield Static("", id="dovecot-facts", classes="facts")
        yield Static("Nothing to choose here: POP3 is chosen on Packages.", classes="note")

    def load(self, a: Answers, pf: Preflight | None = None) -> None:
        version = (pf.dovecot_version if pf else None) or "not installed yet (the packages step installs it)"
        pop3 = "IMAPS 993 and POP3S 995" if a.services.pop3 else "IMAPS 993 (no POP3)"
        self.query_one("#dovecot-facts", Static).update(
            f"• Mailboxes: /var/mail/vhosts/<domain>/<user>, owner vmail (uid 5000)\n"
            f"• Logins: checked against the database; only over TLS\n"
            f"• Serves: {pop3}\n"
            f"• Delivery: Postfix hands mail over LMTP\n"
            f"• Dovecot here: {version}")
