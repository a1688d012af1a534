"""The Webmail form: Roundcube at https://<hostname>/ on or off, and what it sets up, in words; and the daily
security updates (unattended-upgrades)."""

from __future__ import annotations

from dataclasses import replace

from mailtui.screens.widgets.fields import CheckRow
from mailtui.screens.wizard.form import FormPane
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import Checkbox, Static

from mailtui.api.types import MANAGESIEVE_ADDRESS, MANAGESIEVE_PORT, WEB_PORTS, Preflight
from mailtui.model.answers import Answers

WEB_PORT_NUMBERS = " and ".join(str(n) for n in sorted(p.number for p in WEB_PORTS))  # "80 and 443"


def webmail_facts(enabled: bool, host: str, database_local: bool = True) -> str:
    """What the webmail sets up (or, switched off, what is not set up), in lines that fit the 80x24 form."""
    if not enabled:
        return ("• No webmail: nginx, PHP-FPM and Roundcube are not\n"
                "  installed; users read mail in mail apps (IMAPS)\n"
                "• Passwords are changed by you (mailtui user passwd)\n"
                "• No filters or out-of-office replies from a browser\n"
                "• Mail apps are not configured automatically\n"
                f"• Ports {WEB_PORT_NUMBERS} stay closed for it")
    lines = [
        f"• Address: https://{host or '<hostname>'}/",
        "• Roundcube on nginx + PHP-FPM, with its own database\n"
        "  in the local MariaDB",
        "• Filters and out-of-office replies: ManageSieve on\n"
        f"  {MANAGESIEVE_ADDRESS}:{MANAGESIEVE_PORT} (not reachable from outside)",
        "• Users change their own password there",
        "• Mail apps configure themselves (autoconfig and\n"
        "  autodiscover)",
        f"• Ports {WEB_PORT_NUMBERS}: the firewall step opens them",
    ]
    if not database_local:
        lines.append("⚠ The mail database is on another server: Roundcube\n"
                     "  needs the MariaDB here (untick, or use 127.0.0.1)")
    return "\n".join(lines)


class WebmailForm(FormPane):
    stage = "webmail"
    heading = "7 · Webmail"
    step_name = "webmail"

    def compose(self) -> ComposeResult:
        # The labels stay within 50 characters: whole beside a scrollbar (the form scrolls with a problem shown).
        yield from self.compose_head()
        yield CheckRow("Webmail at https://<hostname>/ (Roundcube, nginx)", "webmail.enabled", id="cb-webmail")
        yield Static("", id="webmail-facts", classes="facts")
        yield CheckRow("Daily security updates (unattended-upgrades)", "updates.enabled", id="cb-updates")

    def _row(self, key: str) -> CheckRow:
        row = self.problem_row(key)
        assert isinstance(row, CheckRow), key
        return row

    def load(self, a: Answers, pf: Preflight | None = None) -> None:
        self._row("webmail.enabled").value = a.webmail.enabled
        self._row("updates.enabled").value = a.updates.enabled
        self.follow(a)

    def follow(self, a: Answers) -> None:
        """The answers as the other forms hold them now: the hostname it is served at, where the database is."""
        self.host = a.webmail_host
        self.database_local = a.database.is_local
        self._facts()

    def _facts(self) -> None:
        self.query_one("#webmail-facts", Static).update(Text(webmail_facts(
            self._row("webmail.enabled").value, getattr(self, "host", ""), getattr(self, "database_local", True))))

    @on(Checkbox.Changed, "#cb-webmail")
    def webmail_toggled(self) -> None:
        self._facts()

    def store(self, a: Answers) -> Answers:
        return replace(a, webmail=replace(a.webmail, enabled=self._row("webmail.enabled").value),
                       updates=replace(a.updates, enabled=self._row("updates.enabled").value))
