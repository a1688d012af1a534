"""The dashboard's Spam tab: the spam filter as rspamd reports it.

On top, the last 24 hours per hour from rspamd's own log (sparklines like the Mail log's): scanned, refused
(5xx), greylisted (4xx, retried later), into Junk, held back by the hourly limit; then what rspamd learned
and the users the hourly limit held back (a compromised account shows here first). The table lists the
last messages refused or deferred with their scores; the line below it the selected one's subject and the
rules that scored most. Learn spam / Learn ham teach rspamd a message saved as a file (`mailtui spam
learn`), what moving mail into Junk or out of it over IMAP does.

One engine call (`ops.spam_stats`) in a thread worker while the tab is shown; when the filter is off or
rspamd does not answer, the tab says why instead of showing empty counts.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from mailtui.screens.dashboard.common import ActionTablePanel, describe
from mailtui.screens.widgets.ask_path import AskPathScreen
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DataTable, Sparkline, Static

from mailtui.api.operations import Operations
from mailtui.api.types import SPAM_SERIES, Limited, Scan, SpamStats
from mailtui.format import clip

HOURS = 24
SERIES_LABELS = {"scanned": "scanned", "refused": "refused", "greylisted": "greylisted", "junked": "into Junk",
                 "limited": "limited"}
KIND_WORDS = {"refused": "refused", "limited": "limit", "greylisted": "greylisted", "junked": "into Junk"}
SENDER_WIDTH = 22
RECIPIENT_WIDTH = 22
LEARN_DEFAULT = "/root/"


def held_line(limited: list[Limited]) -> Text:
    """'Held by the hourly limit: alice@example.test 5× (last 14:02), …' (or that nobody was)."""
    if not limited:
        return Text("Hourly limit: nobody held back in the last 24 h", style="dim")
    parts = [f"{x.user} {x.times}× (last {time.strftime('%H:%M', time.localtime(x.last))})" for x in limited[:3]]
    more = f", and {len(limited) - 3} more" if len(limited) > 3 else ""
    return Text("Held by the hourly limit: " + ", ".join(parts) + more, style="bold yellow")


def learned_line(s: SpamStats) -> str:
    out = f" · {s.refused_outbound} refused from logins" if s.refused_outbound else ""
    return f"Learned: {s.learned} · the classifier holds {s.learned_spam} spam, {s.learned_ham} ham{out}"


def totals_line(s: SpamStats) -> str:
    """'24 h: 1,234 scanned · 12 refused · 40 greylisted · 33 into Junk · 2 limited'."""
    return "24 h: " + " · ".join(f"{sum(s.hourly.get(k, [])):,} {SERIES_LABELS[k]}" for k in SPAM_SERIES)


def scan_cells(scan: Scan) -> tuple[object, ...]:
    """When, what, score, from, to."""
    when = datetime.fromtimestamp(scan.time).strftime("%b %d %H:%M") if scan.time else "?"
    style = "red" if scan.action == "reject" else "yellow"
    return (when, Text(KIND_WORDS.get(scan.kind, scan.action), style=style),
            Text(f"{scan.score:g}", justify="right"), clip(scan.sender or "<>", SENDER_WIDTH),
            clip(", ".join(scan.recipients) or "?", RECIPIENT_WIDTH))


def scan_detail(scan: Scan) -> str:
    who = f"login {scan.user}" if scan.user else scan.ip or "?"
    subject = f"“{scan.subject}” " if scan.subject else ""
    rules = " ".join(scan.rules) or "(no rules named)"
    return f"{subject}from {who}: {rules}"


class SpamPanel(ActionTablePanel):
    """Counts per hour, learning, the hourly limit's holds, and the last refused or deferred messages."""

    ID_PREFIX = "spam"
    REFRESH_SECONDS: ClassVar[float] = 10.0

    DEFAULT_CSS = """
    SpamPanel {
        height: 1fr;
    }
    SpamPanel #spam-status {
        height: 1;
        text-style: bold;
    }
    SpamPanel #spam-summary {
        height: auto;
    }
    SpamPanel .spam-row {
        height: 1;
    }
    SpamPanel .spam-cell {
        width: 1fr;
        height: 1;
        padding: 0 1 0 0;
    }
    SpamPanel .spam-label {
        width: 11;
        color: $text-muted;
    }
    SpamPanel .spam-cell Sparkline {
        width: 1fr;
        height: 1;
    }
    SpamPanel #spark-spam-scanned > .sparkline--max-color { color: $success; }
    SpamPanel #spark-spam-scanned > .sparkline--min-color { color: $success 30%; }
    SpamPanel #spark-spam-refused > .sparkline--max-color { color: $error; }
    SpamPanel #spark-spam-refused > .sparkline--min-color { color: $error 30%; }
    SpamPanel #spark-spam-greylisted > .sparkline--max-color { color: $warning; }
    SpamPanel #spark-spam-greylisted > .sparkline--min-color { color: $warning 30%; }
    SpamPanel #spark-spam-junked > .sparkline--max-color { color: #ff8700; }
    SpamPanel #spark-spam-junked > .sparkline--min-color { color: #ff8700 30%; }
    SpamPanel #spark-spam-limited > .sparkline--max-color { color: #d75fd7; }
    SpamPanel #spark-spam-limited > .sparkline--min-color { color: #d75fd7 30%; }
    SpamPanel #spam-learned, SpamPanel #spam-held {
        height: 1;
    }
    SpamPanel #spam-learned {
        color: $text-muted;
    }
    SpamPanel #spam-unavailable {
        display: none;
        height: auto;
        color: $warning;
        margin: 1 0;
    }
    SpamPanel #spam-table {
        height: 1fr;
        min-height: 3;
    }
    SpamPanel #spam-detail {
        height: 1;
    }
    SpamPanel #spam-bar {
        height: 1;
    }
    SpamPanel #spam-bar Button {
        margin-right: 1;
        min-width: 8;
    }
    SpamPanel #spam-busy {
        width: 1fr;
        text-align: right;
        color: $warning;
    }
    SpamPanel #spam-output {
        height: 3;
        min-height: 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "learn('spam')", "Learn spam"),
        Binding("h", "learn('ham')", "Learn ham"),
        Binding("r", "reload", "Refresh"),
        Binding("ctrl+r", "reload", "Refresh", show=False),
    ]
    ACTIONS = frozenset({"learn"})
    DISABLED_WHILE_BUSY = "#spam-learn-spam, #spam-learn-ham"

    class StatsLoaded(Message):
        def __init__(self, stats: SpamStats | None, error: str = "") -> None:
            super().__init__()
            self.stats, self.error = stats, error

    class LearnDone(Message):
        def __init__(self, done: str, error: str) -> None:
            super().__init__()
            self.done, self.error = done, error

    def __init__(self, ops: Operations) -> None:
        super().__init__(ops)
        self.stats: SpamStats | None = None
        self.rows: dict[str, Scan] = {}
        self.learn_path = LEARN_DEFAULT

    def compose(self) -> ComposeResult:
        yield Static("asking rspamd…", id="spam-status")
        with Vertical(id="spam-summary"):
            keys = list(SPAM_SERIES)
            for pair in (keys[i:i + 2] for i in range(0, len(keys), 2)):
                with Horizontal(classes="spam-row"):
                    for key in pair:
                        with Horizontal(classes="spam-cell"):
                            yield Static(SERIES_LABELS[key], classes="spam-label")
                            yield Sparkline([0] * HOURS, id=f"spark-spam-{key}")
                    if len(pair) == 1:
                        yield Static("", classes="spam-cell")
        yield Static("", id="spam-learned")
        yield Static("", id="spam-held")
        yield Static("", id="spam-unavailable")
        yield self.new_table()
        yield Static("", id="spam-detail")
        yield self.new_action_bar([("Learn spam", "learn-spam"), ("Learn ham", "learn-ham"), ("Refresh", "refresh")])
        yield self.new_output_log("What learning said shows here. s / h: teach rspamd a message saved as a file.")

    def on_mount(self) -> None:
        table = self.table
        table.add_column("When", key="when")
        table.add_column("What", key="what")
        table.add_column(Text("Score", justify="right"), key="score")
        table.add_column("From", key="from")
        table.add_column("To", key="to")
        self.start_refreshing()  # rspamd is first asked when the tab is shown

    def refresh_now(self) -> None:
        self.load()

    # ------------------------------------------------------------ loading

    @on(Button.Pressed, "#spam-refresh")
    def action_reload(self) -> None:
        """Ask rspamd again now."""
        self.load()

    @work(thread=True, exclusive=True, group="spam-stats")
    def load(self) -> None:
        self.post_read(lambda: self.StatsLoaded(self.ops.spam_stats()), lambda why: self.StatsLoaded(None, why))

    @on(StatsLoaded)
    def _loaded(self, message: StatsLoaded) -> None:
        status = self.query_one("#spam-status", Static)
        available = message.stats is not None
        self._show_available(available)
        if message.stats is None:
            self.stats = None
            self.rows = {}
            self.table.clear()
            status.update(Text("The spam filter cannot be asked", style="bold yellow"))
            self.query_one("#spam-unavailable", Static).update(
                Text(f"{message.error}\n\nThe counts show here once rspamd answers (r asks again)."))
            return
        s = self.stats = message.stats
        status.update(Text(totals_line(s)))
        for key in SPAM_SERIES:
            self.query_one(f"#spark-spam-{key}", Sparkline).data = list(s.hourly.get(key) or [0] * HOURS)
        self.query_one("#spam-learned", Static).update(Text(learned_line(s)))
        self.query_one("#spam-held", Static).update(held_line(s.limited))
        self._fill(s.held)

    def _show_available(self, available: bool) -> None:
        self.query_one("#spam-unavailable", Static).display = not available
        for selector in ("#spam-summary", "#spam-learned", "#spam-held", "#spam-table", "#spam-detail",
                         "#spam-output"):
            self.query_one(selector).display = available

    def _fill(self, held: list[Scan]) -> None:
        self.rows = {}
        for scan in held:
            self.rows.setdefault(f"{scan.time}\t{scan.sender}\t{','.join(scan.recipients)}", scan)
        self.fill_rows((key, scan_cells(scan)) for key, scan in self.rows.items())
        self._show_detail()

    @on(DataTable.RowHighlighted, "#spam-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        key = self.selected_key()
        scan = self.rows.get(key) if key else None
        text = scan_detail(scan) if scan else ("Nothing refused or deferred in rspamd's history" if
                                                self.stats is not None else "")
        self.query_one("#spam-detail", Static).update(Text(text, style="" if scan else "dim"))

    # ------------------------------------------------------------ learning

    @on(Button.Pressed, "#spam-learn-spam")
    def _learn_spam(self) -> None:
        self.action_learn("spam")

    @on(Button.Pressed, "#spam-learn-ham")
    def _learn_ham(self) -> None:
        self.action_learn("ham")

    def action_learn(self, kind: str) -> None:
        """Teach rspamd that a message saved as a file is spam (or ham): asks for the file."""
        if self.refuse_when_busy():
            return
        note = (f"The message as received (.eml, or a file of a maildir), to learn as {kind}.\n"
                "Over IMAP, moving mail into Junk (or out of it) teaches rspamd the same.")

        def answered(path: str | None) -> None:
            if path and self.start_action(f"learning {kind}", f"learn {kind}: {path}"):
                self.learn_path = path
                self.run_learn(kind, path)

        self.app.push_screen(AskPathScreen(f"Learn {kind}", note, self.learn_path, ok_label="Learn"), answered)

    @work(thread=True, group="spam-action")
    def run_learn(self, kind: str, path: str) -> None:
        try:
            said = self.ops.spam_learn(kind, Path(path))
        except Exception as exc:
            self.post_message(self.LearnDone("", describe(exc)))
            return
        self.post_message(self.LearnDone(said, ""))

    @on(LearnDone)
    def _learn_done(self, message: LearnDone) -> None:
        self.finish_action(message.done, message.error)
        self.load()
