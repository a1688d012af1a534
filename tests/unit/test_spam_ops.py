"""`mailtui spam stats|learn` against rspamd's controller: its replies read (a stand-in controller on loopback that
answers only the requests a test expects), and bad input named before rspamd is asked. The real controller:
tests/e2e/test_spam.py."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from mailtui.errors import MailtuiError, ValidationError
from mailtui.ops import spam
from mailtui.policy import spam as policy
from mailtui.stack.rspamd_log import parse_scan
from tests.unit.test_rspamd_log import scan_line

STAT = {"scanned": 12, "learned": 3, "actions": {"no action": 7, "greylist": 2, "add header": 1, "reject": 2},
        "statfiles": [{"symbol": "BAYES_SPAM", "revision": 2}, {"symbol": "BAYES_HAM", "revision": 1}]}
HISTORY = {"version": 2, "rows": [
    {"unix_time": 100, "action": "no action", "score": 1.0},
    {"unix_time": 200, "action": "reject", "score": 1015.5, "required_score": 15, "sender_smtp": "a@sender.test",
     "rcpt_smtp": ["alice@example.test"], "subject": "Buy", "ip": "198.18.0.4",
     "symbols": {"GTUBE": {"score": 0}, "HFILTER_HOSTNAME_UNKNOWN": {"score": 2.5}, "R_SPF_ALLOW": {"score": -0.2}}},
    {"unix_time": 300, "action": "soft reject", "score": 0, "user": "carol@example.test"},
    {"unix_time": 250, "action": "soft reject", "score": 4.5, "sender_smtp": "new@sender.test",
     "symbols": {"GREYLIST": {"score": 0}, "MAILTUI_TEST_SCORE": {"score": 4.5}}},
]}


class Controller(BaseHTTPRequestHandler):
    routes: dict[tuple[str, str], tuple[int, object]] = {}
    bodies: list[bytes] = []

    def _answer(self, method: str) -> None:
        route = self.routes.get((method, self.path))
        if route is None:  # fails closed: a request no test expects
            self.send_error(599, f"unexpected {method} {self.path}")
            return
        if method == "POST":
            self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        status, body = route
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        self._answer("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._answer("POST")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def controller(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[type[Controller]]:
    server = HTTPServer(("127.0.0.1", 0), Controller)
    monkeypatch.setattr(policy, "RSPAMD_CONTROLLER", f"127.0.0.1:{server.server_port}")
    # rspamd's log: two scans of the last minutes, one of a user over the hourly limit
    now = datetime.now()
    log = tmp_path / "rspamd.log"
    log.write_text(scan_line(now - timedelta(minutes=2), "soft reject", user="carol@example.test") + "\n"
                   + scan_line(now - timedelta(minutes=1), "reject") + "\n")
    monkeypatch.setattr(policy, "RSPAMD_LOG", str(log))
    Controller.routes, Controller.bodies = {}, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Controller
    server.shutdown()
    server.server_close()


def test_stats_are_rspamds_counts_and_its_last_refusals(controller: type[Controller]) -> None:
    controller.routes = {("GET", "/stat"): (200, STAT), ("GET", "/history"): (200, HISTORY)}
    s = spam.stats()
    assert (s.scanned, s.learned, s.learned_spam, s.learned_ham) == (12, 3, 2, 1)
    assert s.actions["reject"] == 2 and s.actions["soft reject"] == 0
    assert [h.kind for h in s.held] == ["limited", "greylisted", "refused"]  # newest first, clean mail left out
    gtube = s.held[2]
    assert gtube.rules == ("HFILTER_HOSTNAME_UNKNOWN(2.5)", "R_SPF_ALLOW(-0.2)")
    assert (gtube.recipients, gtube.required, s.held[0].user) == (("alice@example.test",), 15.0, "carol@example.test")
    # and the last 24 hours from rspamd's log
    assert (sum(s.hourly["scanned"]), sum(s.hourly["refused"]), sum(s.hourly["limited"])) == (2, 1, 1)
    assert [(x.user, x.times) for x in s.limited] == [("carol@example.test", 1)]
    assert len(s.hourly["scanned"]) == spam.HOURS


def test_learning_posts_the_message_and_says_what_rspamd_said(controller: type[Controller], tmp_path: Path) -> None:
    message = tmp_path / "m.eml"
    message.write_bytes(b"From: a@sender.test\nSubject: x\n\nbody\n")
    controller.routes = {("POST", "/learnspam"): (200, {"success": True}),
                         ("POST", "/learnham"): (208, {"error": "<id> has been already learned as ham, ignore it"})}
    assert spam.learn("spam", message) == f"rspamd learned {message} as spam"
    assert "already learned" in spam.learn("ham", message)
    assert controller.bodies == [message.read_bytes()] * 2


def test_a_controller_error_is_said(controller: type[Controller], tmp_path: Path) -> None:
    message = tmp_path / "m.eml"
    message.write_bytes(b"Subject: x\n\nbody\n")
    controller.routes = {("POST", "/learnspam"): (500, {"error": "cannot connect to redis"})}
    with pytest.raises(MailtuiError, match="cannot connect to redis"):
        spam.learn("spam", message)


def test_no_controller_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as bound:  # bound, never listening: the connection is refused
        bound.bind(("127.0.0.1", 0))
        monkeypatch.setattr(policy, "RSPAMD_CONTROLLER", f"127.0.0.1:{bound.getsockname()[1]}")
        with pytest.raises(MailtuiError, match="does not answer"):
            spam.stats()


@pytest.mark.parametrize(("kind", "content", "field"), [
    ("junk", b"Subject: x\n\nbody\n", "kind"),
    ("spam", None, "FILE"),
    ("spam", b"", "FILE"),
    ("spam", b"\x89PNG\r\n\x1a\n binary", "FILE"),
])
def test_bad_input_is_named_before_rspamd_is_asked(tmp_path: Path, kind: str, content: bytes | None,
                                                    field: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # nothing there, and the machine guard fails the test if anything tried to connect
    monkeypatch.setattr(policy, "RSPAMD_CONTROLLER", "127.0.0.1:9")
    path = tmp_path / "m.eml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValidationError) as err:
        spam.learn(kind, path)
    assert field in err.value.problems


def test_the_stats_read_as_sentences() -> None:
    from mailtui.cli.spam import stats_text

    s = spam.stats_from(STAT, HISTORY)
    text = stats_text(s)
    assert text.startswith("scanned: 12 — 7 clean, 2 greylisted, 1 into Junk, 2 refused\n")
    assert "the classifier holds 2 spam, 1 ham" in text
    assert "deferred (limit)" in text and "login carol@example.test" in text
    assert "greylisted       4.5/0  new@sender.test" in text
    assert "refused          1015.5/15  a@sender.test -> alice@example.test  (198.18.0.4)" in text
    assert "rules: HFILTER_HOSTNAME_UNKNOWN(2.5) R_SPF_ALLOW(-0.2)" in text
    assert "nothing refused" in stats_text(spam.stats_from(STAT, None))
    assert "last 24 h" not in text  # no counts from the log: no line for them


def test_the_last_day_reads_as_a_sentence() -> None:
    from mailtui.cli.spam import stats_text

    now = datetime(2026, 12, 6, 18, 30).astimezone()
    scans = [parse_scan(scan_line(now - timedelta(minutes=m), a, user=u)) for m, a, u in
             [(1, "no action", ""), (2, "reject", "dave@example.test"), (3, "soft reject", "carol@example.test"),
              (4, "add header", ""), (5, "greylist", "")]]
    s = replace(spam.stats_from(STAT, HISTORY), **spam.window_from([x for x in scans if x], now=now))
    text = stats_text(s)
    assert ("last 24 h (rspamd's log): 5 scanned, 1 refused, 1 greylisted, 1 into Junk, 1 held by the hourly "
            "limit; 1 refused from logged-in users\n") in text
    assert "held by the hourly limit: carol@example.test (1 time, last 18:27)" in text
