"""The dashboard's Queue tab: the Postfix mail queue (`postqueue -j`) with age, size, sender, recipients
and the reason a message waits; flush one or all, hold / release, delete (after a confirmation).

Every engine call runs in a thread worker and answers with a message; errors are shown (red "✗ …"),
never raised. The list reloads every few seconds while the tab is shown and after every action, and
the cursor stays on the same message (by queue id) when it is still there.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

from mailtui.screens.dashboard.common import ActionTablePanel, Confirm, describe
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Button, DataTable, Static

from mailtui.api.operations import Operations
from mailtui.format import clip, human_age, human_size

QUEUE_ORDER = ("active", "incoming", "maildrop", "deferred", "hold")
SENDER_WIDTH = 16
RECIPIENTS_WIDTH = 18
REASON_MIN, REASON_MAX = 24, 60  # the reason column fills what the others leave, within these


def sender_text(sender: str) -> str:
    return sender or "<>"


def recipients_text(recipients: list[str], width: int = RECIPIENTS_WIDTH) -> str:
    """The first recipient and "+N" for the others, in `width` characters."""
    if not recipients:
        return "-"
    more = f" +{len(recipients) - 1}" if len(recipients) > 1 else ""
    return clip(recipients[0], width - len(more)) + more


def recipients_sentence(recipients: list[str]) -> str:
    """Up to three recipients in full, then how many more ("-" for none)."""
    more = f" and {len(recipients) - 3} more" if len(recipients) > 3 else ""
    return (", ".join(recipients[:3]) + more) or "-"


def counts_text(messages: list[Any]) -> str:
    """'3 messages: 2 deferred, 1 hold' ('The queue is empty' when it is)."""
    if not messages:
        return "The queue is empty"
    counts = Counter(m.queue for m in messages)
    order = [q for q in QUEUE_ORDER if q in counts] + sorted(q for q in counts if q not in QUEUE_ORDER)
    total = len(messages)
    return f"{total} message{'s' if total != 1 else ''}: " + ", ".join(f"{counts[q]} {q}" for q in order)


class QueuePanel(ActionTablePanel):
    """The mail queue in a table; actions on the selected message (or on all of them: F)."""

    ID_PREFIX = "queue"
    REFRESH_SECONDS: ClassVar[float] = 3.0

    DEFAULT_CSS = """
    QueuePanel {
        height: 1fr;
    }
    QueuePanel #queue-status {
        height: auto;
        color: $text;
        text-style: bold;
    }
    QueuePanel #queue-table {
        height: 1fr;
        min-height: 3;
    }
    QueuePanel #queue-who {
        height: auto;
        max-height: 2;
    }
    QueuePanel #queue-why {
        height: auto;
        max-height: 3;
    }
    QueuePanel #queue-bar {
        height: 1;
    }
    QueuePanel #queue-bar Button {
        margin-right: 1;
        min-width: 8;
    }
    QueuePanel #queue-busy {
        width: 1fr;
        text-align: right;
        color: $warning;
    }
    QueuePanel #queue-output {
        height: 4;
        min-height: 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "flush", "Flush"),
        Binding("F", "flush_all", "Flush all"),
        Binding("h", "hold", "Hold"),
        Binding("u", "release", "Release"),
        Binding("x", "delete", "Delete"),
        Binding("delete", "delete", "Delete", show=False),
        Binding("g", "reload", "Refresh", show=False),  # it refreshes by itself every 3 s
        Binding("ctrl+r", "reload", "Refresh", show=False),
    ]
    ACTIONS = frozenset({"flush", "flush_all", "hold", "release", "delete"})

    class QueueLoaded(Message):
        def __init__(self, messages: list[Any] | None, error: str = "") -> None:
            super().__init__()
            self.messages, self.error = messages, error

    class ActionDone(Message):
        def __init__(self, done: str, output: str, error: str) -> None:
            super().__init__()
            self.done, self.output, self.error = done, output, error

    def __init__(self, ops: Operations) -> None:
        super().__init__(ops)
        self.messages: dict[str, Any] = {}
        self.loaded = False
        self._shown_reason_width = 0

    def compose(self) -> ComposeResult:
        yield Static("reading the queue…", id="queue-status")
        yield self.new_table()
        yield Static("", id="queue-who")
        yield Static("", id="queue-why")
        yield self.new_action_bar([("Flush", "flush"), ("Flush all", "flush-all"), ("Hold", "hold"),
                                   ("Release", "release"), ("Delete", "delete")])
        yield self.new_output_log("What flush / hold / release / delete said shows here.")

    def on_mount(self) -> None:
        table = self.table
        table.add_column("Queue ID", key="id")
        table.add_column("Queue", key="queue")
        table.add_column(Text("Age", justify="right"), key="age")
        table.add_column(Text("Size", justify="right"), key="size")
        table.add_column("Sender", key="sender")
        table.add_column("Recipients", key="recipients")
        table.add_column("Reason", key="reason")
        self.start_refreshing()
        self.load()

    # ------------------------------------------------------------ shown / hidden (RefreshWhileShown)

    def refresh_now(self) -> None:
        self.load()

    # ------------------------------------------------------------ loading

    def action_reload(self) -> None:
        """Read the queue again now."""
        self.load()

    @work(thread=True, exclusive=True, group="queue-list")
    def load(self) -> None:
        self.post_list(self.ops.queue_list, self.QueueLoaded)

    @on(QueueLoaded)
    def _loaded(self, message: QueueLoaded) -> None:
        status = self.query_one("#queue-status", Static)
        if message.messages is None:
            status.update(Text(f"✗ could not read the mail queue: {message.error}", style="bold red"))
            return
        self.messages = {}
        for m in message.messages:
            self.messages.setdefault(m.queue_id, m)  # a message seen twice while it moves between queues
        self.loaded = True
        self._fill()
        status.update(counts_text(list(self.messages.values())))

    def _reason_width(self) -> int:
        """What the table's width leaves for the reason (the table scrolls sideways below REASON_MIN)."""
        width = self.table.scrollable_content_region.width
        if width <= 0:
            return REASON_MIN
        others = [max([len("Queue ID")] + [len(m.queue_id) for m in self.messages.values()]),
                  max([5] + [len(m.queue) for m in self.messages.values()]), 5, 9, SENDER_WIDTH,
                  RECIPIENTS_WIDTH]
        left = width - sum(others) - 2 * (len(others) + 1) - 1
        return max(REASON_MIN, min(REASON_MAX, left))

    def _fill(self) -> None:
        table = self.table
        before_id = self.selected_id()
        before_row = table.cursor_row
        table.clear()
        self._shown_reason_width = reason_width = self._reason_width()
        for m in self.messages.values():
            queue_style = {"hold": "yellow", "deferred": "red", "active": "green"}.get(m.queue, "")
            table.add_row(
                m.queue_id, Text(m.queue, style=queue_style),
                Text(human_age(m.age_seconds), justify="right"), Text(human_size(m.size), justify="right"),
                clip(sender_text(m.sender), SENDER_WIDTH), recipients_text(list(m.recipients)),
                clip(m.reason, reason_width) if m.reason else "",
                key=m.queue_id)
        if self.messages:
            ids = list(self.messages)
            row = ids.index(before_id) if before_id in ids else min(max(before_row, 0), len(ids) - 1)
            table.move_cursor(row=row, scroll=True)
        self._show_detail()

    def on_resize(self) -> None:
        self.call_after_refresh(self._maybe_refill)

    def _maybe_refill(self) -> None:
        if self.messages and self._reason_width() != self._shown_reason_width:
            self._fill()

    @on(DataTable.RowHighlighted, "#queue-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        who = self.query_one("#queue-who", Static)
        why = self.query_one("#queue-why", Static)
        m = self.selected_message()
        if m is None:
            who.update("")
            why.update("")
            return
        line = Text()
        line.append(m.queue_id, style="bold")
        line.append(f" from {sender_text(m.sender)} to {recipients_sentence(list(m.recipients))}")
        who.update(line)
        reason = Text()
        if m.reason:
            reason.append("Why: ", style="bold")
            reason.append(m.reason, style="yellow")
        elif m.queue == "hold":
            reason.append("On hold: Postfix leaves it alone until it is released (u)", style="yellow")
        elif m.queue == "active":
            reason.append("Being delivered now", style="green")
        else:
            reason.append("No reason given", style="dim")
        why.update(reason)

    # ------------------------------------------------------------ selection

    def selected_id(self) -> str | None:
        return self.selected_key()

    def selected_message(self) -> Any | None:
        queue_id = self.selected_id()
        return self.messages.get(queue_id) if queue_id else None

    def _selected_or_say(self) -> Any | None:
        m = self.selected_message()
        if m is None:
            self.notify("No message selected" + (": the queue is empty" if self.loaded and not self.messages
                                                 else ""), severity="warning")
        return m

    # ------------------------------------------------------------ actions

    def _start(self, action: str, queue_id: str | None, title: str, busy: str, done: str) -> None:
        if self.start_action(busy, title):
            self.run_action(action, queue_id, done)

    @on(Button.Pressed, "#queue-flush")
    def action_flush(self) -> None:
        """Attempt delivery of the selected message now."""
        m = self._selected_or_say()
        if m is not None and not self.refuse_when_busy():
            if m.queue == "hold":
                self.notify(f"{m.queue_id} is on hold: release it (u) first", severity="warning")
                return
            self._start("flush", m.queue_id, f"flush {m.queue_id}", f"flushing {m.queue_id}",
                        f"asked Postfix to deliver {m.queue_id} now")

    @on(Button.Pressed, "#queue-flush-all")
    def action_flush_all(self) -> None:
        """Attempt delivery of every queued message now (those on hold stay)."""
        self._start("flush", None, "flush the whole queue", "flushing the queue",
                    "asked Postfix to deliver every queued message now (messages on hold stay)")

    @on(Button.Pressed, "#queue-hold")
    def action_hold(self) -> None:
        """Put the selected message on hold."""
        m = self._selected_or_say()
        if m is not None and not self.refuse_when_busy():
            if m.queue == "hold":
                self.notify(f"{m.queue_id} is already on hold", severity="warning")
                return
            self._start("hold", m.queue_id, f"hold {m.queue_id}", f"putting {m.queue_id} on hold",
                        f"{m.queue_id} is on hold")

    @on(Button.Pressed, "#queue-release")
    def action_release(self) -> None:
        """Release the selected message from hold."""
        m = self._selected_or_say()
        if m is not None and not self.refuse_when_busy():
            if m.queue != "hold":
                self.notify(f"{m.queue_id} is not on hold", severity="warning")
                return
            self._start("release", m.queue_id, f"release {m.queue_id}", f"releasing {m.queue_id}",
                        f"released {m.queue_id} (to the deferred queue: flush it to deliver it now)")

    @on(Button.Pressed, "#queue-delete")
    def action_delete(self) -> None:
        """Delete the selected message (asks first)."""
        m = self._selected_or_say()
        if m is None or self.refuse_when_busy():
            return
        queue_id = m.queue_id

        def answered(choice: str | None) -> None:
            if choice == "delete":
                self._start("delete", queue_id, f"delete {queue_id}", f"deleting {queue_id}",
                            f"deleted {queue_id}")

        self.app.push_screen(Confirm(
            f"Delete message {queue_id}?",
            f"From {sender_text(m.sender)} to {recipients_sentence(list(m.recipients))} ({human_size(m.size)}).\n"
            "It is removed from the queue for good: it is not delivered and nobody is told.",
            [("delete", "Delete", "error")]), answered)

    @work(thread=True, group="queue-action")
    def run_action(self, action: str, queue_id: str | None, done: str) -> None:
        try:
            output = self.ops.queue_action(action, queue_id)
        except Exception as exc:
            what = f"{action} {queue_id}" if queue_id else f"{action} the queue"
            self.post_message(self.ActionDone("", "", f"{what} failed: {describe(exc)}"))
            return
        self.post_message(self.ActionDone(done, str(output or ""), ""))

    @on(ActionDone)
    def _action_done(self, message: ActionDone) -> None:
        self.finish_action(message.done, message.error, message.output)
        self.load()
