"""Welcome: what preflight found on this machine; the not-root screen."""

from __future__ import annotations

from mailtui.screens.widgets.toggles import Checkbox
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Center, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Static

from mailtui.api.types import Preflight


def describe_preflight(pf: Preflight) -> Table:
    """The preflight facts, a label and its value per row; a long value wraps under itself."""
    grid = Table.grid(padding=(0, 2, 0, 0))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()

    def row(label: str, value: str, style: str = "") -> None:
        grid.add_row(label, Text(value, style=style))

    support = "  (not a supported release)" if not pf.supported else ""
    row("System", f"{pf.os_pretty}{support}", "" if pf.supported else "red")
    row("Hostname", pf.hostname)
    row("Mailname", pf.mailname or "— (/etc/mailname is not there yet)")
    versions = ", ".join(f"{n} {v}" for n, v in (("Postfix", pf.postfix_version), ("Dovecot", pf.dovecot_version),
                                                  ("MariaDB", pf.mariadb_version)) if v)
    row("Installed", versions or "none of Postfix, Dovecot, MariaDB yet")
    row("Ports", " · ".join(f"{p.port} {'in use by ' + (p.by or '?') if p.in_use else 'free'}" for p in pf.ports))
    row("Services", "systemd" if pf.systemd else "no systemd: mailtui starts the services itself")
    row("Firewall", "ufw, active" if pf.ufw_active else "ufw, installed, inactive" if pf.ufw_installed
        else "ufw is not installed (the install adds it)")
    row("Mail log", pf.mail_log or "none yet (Postfix will write one)")
    return grid


class WelcomePane(VerticalScroll):
    def __init__(self) -> None:
        super().__init__(id="welcome", classes="pane")

    def compose(self) -> ComposeResult:
        yield Static("Welcome to mailtui", classes="pane-title")
        yield Static("This walks you through installing Postfix, Dovecot and MariaDB with virtual domains. "
                     "Nothing changes until you confirm the review.", classes="why")
        yield Static("Checking this machine…", id="preflight")
        yield Static("", id="earlier", classes="note")
        yield Checkbox("Adopt it: fill the forms from it", True, id="cb-adopt", compact=True)
        yield Static("", id="blocking", classes="blocking")

    def on_mount(self) -> None:
        self.query_one("#cb-adopt").display = False
        self.query_one("#blocking").display = False

    def show(self, pf: Preflight) -> None:
        self.query_one("#preflight", Static).update(describe_preflight(pf))
        earlier = []
        if pf.earlier_install:
            earlier.append(f"An earlier mailtui install was found (its last run: {pf.install_state}).")
        if pf.tutorial_database:
            earlier.append("A tutorial-style mail database (virtual_domains, virtual_users, virtual_aliases) "
                           "was found.")
        self.query_one("#earlier", Static).update("\n".join(earlier))
        self.query_one("#cb-adopt").display = bool(earlier)
        if pf.problems:
            blocking = self.query_one("#blocking", Static)
            blocking.update("Cannot install here:\n" + "\n".join(f"✗ {p}" for p in pf.problems))
            blocking.display = True

    def show_error(self, message: str) -> None:
        self.query_one("#preflight", Static).update(
            Text(f"Could not inspect this machine: {message}\nDefaults are filled in; check every form.",
                 style="yellow"))

    @property
    def adopt(self) -> bool:
        cb = self.query_one("#cb-adopt", Checkbox)
        return bool(cb.display and cb.value)


class NotRootScreen(Screen[None]):
    """Shown instead of the wizard when mailtui does not run as root."""

    BINDINGS = [("q", "leave", "Quit")]

    def action_leave(self) -> None:
        self.app.exit(1, return_code=1)

    def compose(self) -> ComposeResult:
        yield Header()
        with Center(), Vertical(id="not-root"):
            yield Static("mailtui must run as root", classes="pane-title")
            yield Static(
                "Installing a mail server installs packages, writes /etc/postfix and /etc/dovecot, creates a "
                "database and opens firewall ports: all of that needs root.\n\n"
                "Start it again as root:\n\n    sudo scripts/run\n or sudo mailtui\n\n"
                "Nothing was changed.", classes="why")
            yield Button("Quit", id="btn-quit", variant="primary")
        yield Footer()

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.app.exit(1, return_code=1)
