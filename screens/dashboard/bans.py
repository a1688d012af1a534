"""The dashboard's Bans tab: the addresses fail2ban has banned after repeated failed logins (address, jail,
since, until and the time left), each jail's counts, and lifting a ban (after a confirmation).

Every engine call runs in a thread worker and answers with a message; errors are shown (red "✗ …"),
never raised. When fail2ban cannot be asked (not installed, not running, switched off in the answers)
the tab says why instead of showing an empty table. The list reloads while the tab is shown and after
every unban, and the cursor stays on the same ban when it is still there.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, ClassVar

from mailtui.screens.dashboard.common import ActionTablePanel, Confirm, describe
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Button, DataTable, Static

from mailtui.api.operations import Operations
from mailtui.api.types import NEVER_BANNED, Ban, JailStatus
from mailtui.format import clip, human_age

TIME_FORMAT = "%b %d %H:%M"  # "Nov 25 14:02"
ADDRESS_WIDTH = 23  # a longer address (IPv6 has up to 39 characters) shows whole in the line below the table
JAIL_WIDTH = 14


def when_text(epoch: float | None) -> str:
    """An epoch time as local "Nov 25 14:02" ("-" when fail2ban did not say)."""
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch).strftime(TIME_FORMAT)


def left_text(ends_at: float | None, now: float) -> str:
    """How long the ban still lasts ("-" when unknown, "ending" once its time is up)."""
    if ends_at is None:
        return "-"
    left = ends_at - now
    return human_age(left) if left >= 1 else "ending"


def detail_text(ban: Ban, now: float) -> str:
    """The selected ban in full: '2001:db8::7 (dovecot): banned Nov 25 14:02, until Nov 25 15:02 — 55m00s left'."""
    text = f"{ban.address} ({ban.jail}): banned {when_text(ban.banned_at)}"
    if ban.ends_at is not None:
        left = left_text(ban.ends_at, now)
        text += f", until {when_text(ban.ends_at)} — " + ("ending now" if left == "ending" else f"{left} left")
    return text


def ban_key(ban: Ban) -> str:
    return f"{ban.jail}\t{ban.address}"


# Why the Mail log can count failed logins that no jail counts: fail2ban ignores these addresses.
NEVER_BANNED_NOTE = f"Never banned nor counted here: {', '.join(NEVER_BANNED)} and [security] ignore"


def jail_line(jail: JailStatus) -> str:
    """'dovecot        failed 3 now / 41 total   banned 1 now / 9 total'."""
    return (f"{jail.name:<14} failed {jail.currently_failed} now / {jail.total_failed} total   "
            f"banned {jail.currently_banned} now / {jail.total_banned} total")


def bans_summary(bans: list[Ban]) -> str:
    """'3 addresses banned' ('No address is banned' when none is)."""
    if not bans:
        return "No address is banned"
    addresses = {b.address for b in bans}
    n = len(addresses)
    return f"{n} address{'es' if n != 1 else ''} banned" + (f" ({len(bans)} bans)" if len(bans) != n else "")


class BansPanel(ActionTablePanel):
    """fail2ban's bans in a table, each jail's counts above it; unban the selected address."""

    ID_PREFIX = "bans"
    REFRESH_SECONDS: ClassVar[float] = 5.0

    DEFAULT_CSS = """
    BansPanel {
        height: 1fr;
    }
    BansPanel #bans-status {
        height: auto;
        text-style: bold;
    }
    BansPanel #bans-jails {
        height: auto;
        max-height: 6;
        color: $text-muted;
    }
    BansPanel #bans-unavailable {
        display: none;
        height: auto;
        color: $warning;
        margin: 1 0;
    }
    BansPanel #bans-table {
        height: 1fr;
        min-height: 3;
    }
    BansPanel #bans-detail {
        height: auto;
        max-height: 2;
    }
    BansPanel #bans-bar {
        height: 1;
    }
    BansPanel #bans-bar Button {
        margin-right: 1;
        min-width: 8;
    }
    BansPanel #bans-busy {
        width: 1fr;
        text-align: right;
        color: $warning;
    }
    BansPanel #bans-output {
        height: 4;
        min-height: 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("u", "unban", "Unban"),
        Binding("delete", "unban", "Unban", show=False),
        Binding("r", "reload", "Refresh"),
        Binding("g", "reload", "Refresh", show=False),
        Binding("ctrl+r", "reload", "Refresh", show=False),
    ]
    ACTIONS = frozenset({"unban"})
    DISABLED_WHILE_BUSY = "#bans-unban"  # Refresh stays usable

    class BansLoaded(Message):
        """What fail2ban said: `unavailable` is its sentence when it cannot be asked; `error` when asking
        failed; else the jails and the bans."""

        def __init__(self, jails: list[JailStatus] | None, bans: list[Ban] | None, *, unavailable: str = "",
                     error: str = "") -> None:
            super().__init__()
            self.jails, self.bans, self.unavailable, self.error = jails, bans, unavailable, error

    class UnbanDone(Message):
        def __init__(self, done: str, error: str) -> None:
            super().__init__()
            self.done, self.error = done, error

    def __init__(self, ops: Operations) -> None:
        super().__init__(ops)
        self.bans: dict[str, Any] = {}  # ban_key -> Ban, in the order shown (newest first)
        self.loaded = False
        self.unavailable = ""

    def compose(self) -> ComposeResult:
        yield Static("asking fail2ban…", id="bans-status")
        yield Static("", id="bans-jails")
        yield Static("", id="bans-unavailable")
        yield self.new_table()
        yield Static("", id="bans-detail")
        yield self.new_action_bar([("Unban", "unban"), ("Refresh", "refresh")])
        yield self.new_output_log("What unban said shows here.")

    def now(self) -> float:
        return float(getattr(self.app, "clock", time.time)())

    def on_mount(self) -> None:
        table = self.table
        table.add_column("Address", key="address")
        table.add_column("Jail", key="jail")
        table.add_column("Since", key="since")
        table.add_column("Until", key="until")
        table.add_column(Text("Left", justify="right"), key="left")
        self.start_refreshing()  # fail2ban is first asked when the tab is shown

    # ------------------------------------------------------------ shown / hidden (RefreshWhileShown)

    def refresh_now(self) -> None:
        self.load()

    # ------------------------------------------------------------ loading

    @on(Button.Pressed, "#bans-refresh")
    def action_reload(self) -> None:
        """Ask fail2ban again now."""
        self.load()

    @work(thread=True, exclusive=True, group="bans-list")
    def load(self) -> None:
        self.post_read(self._ask_fail2ban, lambda why: self.BansLoaded(None, None, error=why))

    def _ask_fail2ban(self) -> BansLoaded:
        why_not = self.ops.bans_available()
        if why_not:
            return self.BansLoaded(None, None, unavailable=str(why_not))
        return self.BansLoaded(list(self.ops.ban_jails()), list(self.ops.bans()))

    @on(BansLoaded)
    def _loaded(self, message: BansLoaded) -> None:
        status = self.query_one("#bans-status", Static)
        if message.error:
            status.update(Text(f"✗ could not read the bans: {message.error}", style="bold red"))
            return
        if self.unavailable != message.unavailable:
            self.unavailable = message.unavailable
            self.refresh_bindings()
        self._show_available(not message.unavailable)
        if message.unavailable:
            self.bans = {}
            self.loaded = True
            status.update(Text("fail2ban is not available", style="bold yellow"))
            self.query_one("#bans-unavailable", Static).update(
                Text(f"{message.unavailable}\n\nThe bans show here once fail2ban runs (r asks again)."))
            self.query_one("#bans-jails", Static).update("")
            self.table.clear()
            return
        jails, bans = message.jails or [], message.bans or []
        self.bans = {}
        for ban in bans:
            self.bans.setdefault(ban_key(ban), ban)
        self.loaded = True
        self.query_one("#bans-jails", Static).update(
            Text("\n".join([*(jail_line(j) for j in jails), NEVER_BANNED_NOTE])) if jails
            else Text("fail2ban runs, but no jail is active", style="yellow"))
        status.update(Text(bans_summary(list(self.bans.values()))))
        self._fill()

    def _show_available(self, available: bool) -> None:
        """The table (or, when fail2ban cannot be asked, the reason why) — Refresh stays either way. When
        that changes the focus follows: to Refresh while there is no table, back to the table after."""
        changed = self.table.display != available
        self.query_one("#bans-unavailable", Static).display = not available
        for selector in ("#bans-table", "#bans-detail", "#bans-jails", "#bans-unban", "#bans-output"):
            self.query_one(selector).display = available
        focused = self.screen.focused
        if not self.showing or (focused is not None and self not in focused.ancestors):
            return  # never pull the focus into a hidden tab (TabbedContent would switch to it)
        if available and (focused is None or (changed and focused.id == "bans-refresh")):
            self.table.focus()
        elif not available and (focused is None or focused is self.table):
            self.query_one("#bans-refresh", Button).focus()

    def _fill(self) -> None:
        now = self.now()
        self.fill_rows((key, (clip(ban.address, ADDRESS_WIDTH), clip(ban.jail, JAIL_WIDTH), when_text(ban.banned_at),
                              when_text(ban.ends_at), Text(left_text(ban.ends_at, now), justify="right")))
                       for key, ban in self.bans.items())
        self._show_detail()

    @on(DataTable.RowHighlighted, "#bans-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        ban = self.selected_ban()
        self.query_one("#bans-detail", Static).update(Text(detail_text(ban, self.now())) if ban else "")

    # ------------------------------------------------------------ selection

    def selected_ban(self) -> Ban | None:
        key = self.selected_key()
        return self.bans.get(key) if key else None

    # ------------------------------------------------------------ unban

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.ACTIONS and self.unavailable:
            return False  # nothing to unban while fail2ban cannot be asked
        return super().check_action(action, parameters)  # dimmed while an unban runs

    @on(Button.Pressed, "#bans-unban")
    def action_unban(self) -> None:
        """Lift the selected address's ban (asks first)."""
        if self.refuse_when_busy():
            return
        if self.unavailable:
            self.notify(f"Nothing to unban: {self.unavailable}", severity="warning")
            return
        ban = self.selected_ban()
        if ban is None:
            why = ": no address is banned" if self.loaded and not self.bans else "" if self.loaded else \
                ": the bans are still being read"
            self.notify("No ban selected" + why, severity="warning")
            return
        address, jail = ban.address, ban.jail
        jails = [b.jail for b in self.bans.values() if b.address == address]
        until = f" until {when_text(ban.ends_at)}" if ban.ends_at is not None else ""
        text = (f"{address} is banned by the {jail} jail{until}.\n"
                "It can connect and try to log in again at once; more failed logins ban it again.")
        buttons = [("unban", "Unban", "warning")]
        if len(jails) > 1:
            text += f"\nIt is also banned by: {', '.join(j for j in jails if j != jail)}."
            buttons = [("unban", f"Unban from {jail}", "warning"), ("unban-all", "From every jail", "warning")]

        def answered(choice: str | None) -> None:
            if choice in ("unban", "unban-all"):
                self._start_unban(address, jail if choice == "unban" else None)

        self.app.push_screen(Confirm(f"Unban {address}?", text, buttons), answered)

    def _start_unban(self, address: str, jail: str | None) -> None:
        where = f" ({jail})" if jail else " (every jail)"
        if self.start_action(f"unbanning {address}", f"unban {address}{where}"):
            self.run_unban(address, jail)

    @work(thread=True, group="bans-action")
    def run_unban(self, address: str, jail: str | None) -> None:
        try:
            lifted = list(self.ops.unban(address, jail))
        except Exception as exc:
            self.post_message(self.UnbanDone("", f"unban {address} failed: {describe(exc)}"))
            return
        where = ", ".join(lifted) if lifted else (jail or "every jail")
        self.post_message(self.UnbanDone(f"{address} is no longer banned ({where})", ""))

    @on(UnbanDone)
    def _unban_done(self, message: UnbanDone) -> None:
        self.finish_action(message.done, message.error)
        self.load()
