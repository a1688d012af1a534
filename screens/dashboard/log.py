"""The dashboard's Mail log tab: the live mail log, coloured by outcome, filtered as you type.

- A thread worker runs `ops.follow_log` (the last 500 lines, then each new one through rotation) and
  drops the events into a deque; a 0.1 s UI timer takes them out in one batch, so 5,000 lines a second
  cost ten small updates a second, not 5,000. The newest BUFFER_MAX events stay in memory for the
  filter, the journeys and the summary.
- `LogLines` is a line-API view over (seq, event) pairs: it renders only the rows on screen, so 20,000
  lines cost no more than 20; it has a row cursor for choosing the line whose message to follow.
- Following: new lines scroll into view only while the cursor sits on the newest line. Space/p pauses
  (new lines are kept and counted, the view stays put); End/G shows the newest and follows again.
- Enter opens one message's journey (`ops.journey`): its Postfix lines and Dovecot's LMTP delivery.
- mailtui's own probes (`mailtui check`, the verify step, the round trip: `LogEvent.probe`) are folded away
  by default — the status line counts them — and t shows them, dimmed.
- The summary on top: per-minute counts of the last 30 minutes as sparklines (`ops.log_summary`,
  recomputed at most every SUMMARY_EVERY seconds, in a thread).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from typing import Any

from mailtui.screens.dashboard.common import error_text
from mailtui.screens.dashboard.journey import JourneyScreen
from mailtui.screens.dashboard.log_lines import (
    LogLines,
)
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Input, Sparkline, Static
from textual.worker import get_current_worker

from mailtui.api.operations import Operations
from mailtui.api.types import LogQuery, queue_id_of_session
from mailtui.format import compact

BUFFER_MAX = 20_000  # newest events kept for the filter, journeys and the summary
FROM_END_LINES = 500  # lines read back from the end of the log when following starts
DRAIN_EVERY = 0.1  # seconds between batches handed to the view
FILTER_DELAY = 0.2  # debounce of the filter box
SUMMARY_EVERY = 2.0  # seconds between summary recomputations
SUMMARY_MINUTES = 30
SOURCE_CHECK_EVERY = 1.0  # seconds between checks whether a missing log file has appeared

SUMMARY_ROWS = (("delivered", "delivered"), ("deferred", "deferred"), ("rejected", "rejected"),
                ("spam", "spam"), ("auth-failure", "auth fail"))


# ---------------------------------------------------------------- the panel (its lines: log_lines.py)

class MailLogPanel(Vertical):
    """The Mail log tab. Starts following when first shown (not while the operator works in another tab)."""

    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("space,p", "toggle_pause", "Pause"),
        Binding("end,G", "newest", "Newest"),
        Binding("enter", "journey", "Journey"),
        Binding("t", "toggle_probes", "Probe lines", show=False),
        Binding("home,g", "oldest", "Oldest line", show=False),
        Binding("escape", "focus_list", "Back to the lines", show=False),
    ]
    DEFAULT_CSS = """
    MailLogPanel {
        height: 1fr;
    }
    MailLogPanel #log-summary {
        height: auto;
    }
    MailLogPanel .summary-row {
        height: 1;
    }
    MailLogPanel .summary-cell {
        width: 1fr;
        height: 1;
        padding: 0 1 0 0;
    }
    MailLogPanel .summary-label {
        width: 10;
        color: $text-muted;
    }
    MailLogPanel .summary-cell Sparkline {
        width: 1fr;
        height: 1;
    }
    MailLogPanel .summary-count {
        width: auto;
        min-width: 15;
        text-align: right;
        padding: 0 0 0 1;
    }
    MailLogPanel #spark-delivered > .sparkline--max-color { color: $success; }
    MailLogPanel #spark-delivered > .sparkline--min-color { color: $success 30%; }
    MailLogPanel #spark-deferred > .sparkline--max-color { color: $warning; }
    MailLogPanel #spark-deferred > .sparkline--min-color { color: $warning 30%; }
    MailLogPanel #spark-rejected > .sparkline--max-color { color: $error; }
    MailLogPanel #spark-rejected > .sparkline--min-color { color: $error 30%; }
    MailLogPanel #spark-spam > .sparkline--max-color { color: #ff8700; }
    MailLogPanel #spark-spam > .sparkline--min-color { color: #ff8700 30%; }
    MailLogPanel #spark-auth-failure > .sparkline--max-color { color: #d75fd7; }
    MailLogPanel #spark-auth-failure > .sparkline--min-color { color: #d75fd7 30%; }
    MailLogPanel #log-empty {
        height: auto;
        padding: 1 2;
        color: $text-muted;
    }
    MailLogPanel #log-status {
        height: 1;
        color: $text-muted;
        &.-paused { color: $text-warning; }
    }
    MailLogPanel #log-filter {
        height: 1;
    }
    """

    def __init__(self, ops: Operations) -> None:
        super().__init__(id="mail-log")
        self.ops = ops
        self.buffer: list[Any] = []  # the newest events, oldest first
        self.base = 0  # seq of buffer[0]
        self.total = 0  # events received so far (the seq of the next one)
        self.needle = ""  # the applied filter, lower case
        self.show_probes = False  # mailtui's own probe lines: folded away unless asked for (t)
        self.probes_kept = 0  # probe lines in the buffer
        self.paused = False
        self.paused_at = 0  # seq of the first event received while paused
        self.pending_new = 0  # events matching the filter received while paused
        self.source = ""  # what follow_log reads: a path or "journal" (set by the worker)
        self.source_missing = False
        self.ended = ""  # why following stopped, when it did by itself
        self.summary: dict[str, list[int]] = {}
        self._incoming: deque[Any] = deque()
        self._started = False
        self._stopping = False
        self._summary_dirty = False
        self._summary_at = 0.0
        self._source_checked = 0.0
        self._filter_timer: Timer | None = None
        self._shown: tuple[str, str] = ("", "")

    def compose(self) -> ComposeResult:
        with Vertical(id="log-summary"):
            for pair in (SUMMARY_ROWS[i:i + 2] for i in range(0, len(SUMMARY_ROWS), 2)):  # two to a row
                with Horizontal(classes="summary-row"):
                    for key, label in pair:
                        with Horizontal(classes="summary-cell"):
                            yield Static(label, classes="summary-label")
                            yield Sparkline([0] * SUMMARY_MINUTES, id=f"spark-{key}")
                            yield Static("0/1m 0/30m", id=f"count-{key}", classes="summary-count")
                    if len(pair) == 1:
                        yield Static("", classes="summary-cell")  # the last one keeps the others' width
        yield Static("", id="log-empty")
        yield LogLines(id="log-lines")
        yield Static("starting…", id="log-status")
        yield Input(placeholder="/ filter: text anywhere in the line (Esc: back to the lines)", id="log-filter",
                    compact=True)

    @property
    def lines(self) -> LogLines:
        return self.query_one("#log-lines", LogLines)

    # ------------------------------------------------------------ following

    def on_show(self) -> None:
        if not self._started:
            self.start()

    def start(self) -> None:
        """Start following the log (idempotent)."""
        if self._started:
            return
        self._started = True
        self._follow()
        self.set_interval(DRAIN_EVERY, self._drain)
        self.set_interval(SUMMARY_EVERY, self._refresh_summary)
        self._update_status()

    def on_unmount(self) -> None:
        self._stopping = True

    @work(thread=True, group="mail-log-follow", exclusive=True, exit_on_error=False)
    def _follow(self) -> None:
        worker = get_current_worker()

        def stop() -> bool:
            return worker.is_cancelled or self._stopping

        try:
            self.source = str(self.ops.mail_log_source())
            for event in self.ops.follow_log(LogQuery(lines=FROM_END_LINES), stop):
                self._incoming.append(event)  # the UI takes them out in batches (_drain)
                if stop():
                    return
        except Exception as exc:  # shown in the status line instead of a crash
            self.ended = f"the log stopped: {error_text(exc)}"
            return
        if not stop():
            self.ended = "the log ended (the reader stopped)"

    def _drain(self) -> None:
        """Hand the events received since the last call to the view, in one batch."""
        incoming = self._incoming
        batch = []
        while incoming:
            batch.append(incoming.popleft())
        if batch:
            self._add(batch)
        elif not self.total:
            self._check_source()
        self._update_status()

    def _add(self, batch: list[Any]) -> None:
        start = self.total
        self.buffer.extend(batch)
        self.total += len(batch)
        self.probes_kept += sum(1 for e in batch if e.probe)
        excess = len(self.buffer) - BUFFER_MAX
        if excess > 0:
            self.probes_kept -= sum(1 for e in self.buffer[:excess] if e.probe)
            del self.buffer[:excess]
            self.base += excess
        lines = self.lines
        lines.trim_before(self.base)
        first = max(start, self.base)
        matching = [(seq, e) for seq, e in enumerate(batch[first - start:], first) if self._matches(e)]
        if self.paused:
            self.pending_new += len(matching)
        else:
            lines.append(matching)
        self.source_missing = False
        self._summary_dirty = True
        if not self._summary_at:  # the first lines: show the summary at once, then every SUMMARY_EVERY
            self._refresh_summary()

    def _matches(self, event: Any) -> bool:
        if event.probe and not self.show_probes:
            return False
        return not self.needle or self.needle in event.raw.lower()

    def _check_source(self) -> None:
        now = time.monotonic()
        if not self.source or self.source == "journal" or now - self._source_checked < SOURCE_CHECK_EVERY:
            return
        self._source_checked = now
        self.source_missing = not os.path.exists(self.source)

    # ------------------------------------------------------------ status

    def status_text(self) -> str:
        shown, kept = len(self.lines.lines), len(self.buffer)
        if self.ended:
            state = self.ended
        elif self.paused:
            state = f"paused — {self.pending_new:,} new"
        elif self.source_missing and not self.total:
            state = "waiting for it to appear"
        elif not self.lines.at_newest:
            state = "scrolled (End: newest)"
        elif self.source:
            state = "following"
        else:
            state = "starting…"
        counts = f"{shown:,} of {kept:,} lines"
        if self.needle:
            counts += f" matching “{self.needle}”"
        probes = ""
        if self.probes_kept:
            probes = f"{self.probes_kept:,} probe lines {'dimmed' if self.show_probes else 'hidden'} (t)"
        return " · ".join(part for part in (self.source, state, counts, probes) if part)

    def empty_text(self) -> str:
        if self.lines.lines:
            return ""
        if self.buffer:
            if self.needle:
                return f"no line matches “{self.needle}”"
            if self.probes_kept and not self.show_probes:
                return "only mailtui's own probe lines so far (its checks): t shows them"
            return "no lines to show"
        if self.ended:
            return self.ended
        if self.source_missing:
            return (f"waiting for {self.source} to appear\n"
                    "(nothing has written it yet: its lines show here once it exists)")
        if not self.source:
            return "opening the mail log…"
        if self.source == "journal":
            return "no mail lines in the journal yet: new ones show here as they come"
        return f"no lines in {self.source} yet: new ones show here as they come"

    def _update_status(self) -> None:
        """Called every DRAIN_EVERY seconds and after each action; touches the widgets only on a change."""
        shown = (self.status_text(), self.empty_text())
        if shown == self._shown:
            return
        self._shown = shown
        status, empty = shown
        self.query_one("#log-status", Static).update(status)
        self.query_one("#log-status").set_class(self.paused, "-paused")
        box = self.query_one("#log-empty", Static)
        box.display = bool(empty)
        if empty:
            box.update(empty)

    # ------------------------------------------------------------ summary

    def _refresh_summary(self) -> None:
        now = time.monotonic()
        if not self.buffer or (not self._summary_dirty and now - self._summary_at < 20.0):
            return  # nothing new: still recompute now and then, as the minutes move on
        self._summary_dirty = False
        self._summary_at = now
        self._compute_summary(list(self.buffer))

    @work(thread=True, group="mail-log-summary", exclusive=True, exit_on_error=False)
    def _compute_summary(self, events: list[Any]) -> None:
        worker = get_current_worker()
        try:
            summary = self.ops.log_summary(events, minutes=SUMMARY_MINUTES)
        except Exception:  # a line the summary cannot count must not cost the log view: keep the last one
            return
        if worker.is_cancelled or self._stopping:
            return
        with contextlib.suppress(RuntimeError):  # the app is closing
            self.app.call_from_thread(self._show_summary, summary)

    def _show_summary(self, summary: dict[str, list[int]]) -> None:
        self.summary = summary
        for key, _ in SUMMARY_ROWS:
            counts = list(summary.get(key, [0] * SUMMARY_MINUTES))
            self.query_one(f"#spark-{key}", Sparkline).data = counts
            last = counts[-1] if counts else 0
            self.query_one(f"#count-{key}", Static).update(f"{compact(last)}/1m {compact(sum(counts))}/30m")

    # ------------------------------------------------------------ filter

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "log-filter":
            return
        event.stop()
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DELAY, self._apply_filter)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "log-filter":
            return
        event.stop()
        self._apply_filter()
        self.lines.focus()

    def _apply_filter(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None
        self.needle = self.query_one("#log-filter", Input).value.strip().lower()
        upto = self.paused_at if self.paused else self.total
        shown = []
        pending = 0
        for seq, event in enumerate(self.buffer, self.base):
            if self._matches(event):
                if seq < upto:
                    shown.append((seq, event))
                else:
                    pending += 1
        self.pending_new = pending
        self.lines.set_lines(shown)
        self._update_status()

    # ------------------------------------------------------------ actions (keys and the command palette)

    def action_filter(self) -> None:
        """Focus the filter box (/)."""
        self.query_one("#log-filter", Input).focus()

    def action_clear_filter(self) -> None:
        """Show every line again."""
        self.query_one("#log-filter", Input).value = ""
        self._apply_filter()

    def action_focus_list(self) -> None:
        """Back from the filter box to the lines (Esc)."""
        self.lines.focus()

    def action_toggle_probes(self) -> None:
        """Show (dimmed) or hide the lines of mailtui's own probes, e.g. `mailtui check` (t)."""
        self.show_probes = not self.show_probes
        self._apply_filter()

    def action_pause(self) -> None:
        """Stop the view from moving; new lines are kept and counted."""
        if self.paused:
            return
        self.paused = True
        self.paused_at = self.total
        self.pending_new = 0
        self._update_status()

    def action_resume(self) -> None:
        """Show the lines that came while paused and follow again."""
        if not self.paused:
            return
        self.paused = False
        new = [(seq, e) for seq, e in enumerate(self.buffer, self.base)
               if seq >= self.paused_at and self._matches(e)]
        self.pending_new = 0
        self.lines.append(new)
        self._update_status()

    def action_toggle_pause(self) -> None:
        """Pause or resume following (Space or p)."""
        if self.paused:
            self.action_resume()
        else:
            self.action_pause()

    def action_newest(self) -> None:
        """Jump to the newest line and follow again (End or G); also resumes when paused."""
        self.action_resume()
        lines = self.lines
        lines.move_cursor(len(lines.lines) - 1, end=True)
        self._update_status()

    def action_oldest(self) -> None:
        """Jump to the oldest line kept (Home or g)."""
        self.lines.move_cursor(0)
        self._update_status()

    def action_journey(self) -> None:
        """Follow the chosen line's message: its Postfix lines and Dovecot's delivery (Enter)."""
        current = self.lines.current
        if current is None:
            self.notify("There is no line to follow yet.", severity="warning")
            return
        event = current[1]
        queue_id = event.queue_id or queue_id_of_session(self.buffer, event.session_id)
        if not queue_id:
            self.notify("This line has no queue id: choose a Postfix line of a queued message "
                        "(one with a queue id like B29BA1ACA25) to follow it.",
                        title="No queue id", severity="warning")
            return
        self.app.push_screen(JourneyScreen(queue_id, self.ops.journey(self.buffer, queue_id)))
