"""Nothing lost under load and faults: on a fresh install (Debian 12 and 13), many messages over 20
concurrent SMTP connections to the users and the alias of the installed answers each land exactly once,
with no bounce; and the same holds while Dovecot is restarted twice and MariaDB is killed with SIGKILL.

The senders are Python threads on this machine (smtplib to host.ip:25), not Postfix's smtp-source inside
the host: each message needs its own Message-ID (to count losses and duplicates), every reply must be
recorded, and a sender that gets a 4xx must retry that message later like a real MTA does; smtp-source
sets no Message-ID of its own and gives up at its first 4xx. From this machine the client is a stranger
(outside mynetworks), the case that matters; 20 connections stay below Postfix's per-client limit (50).

Only correctness is asserted; the figures (messages, seconds, msg/s, 4xx count, drain time) are printed.
"""

from __future__ import annotations

import json
import queue
import re
import smtplib
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tests.e2e.conftest import Installed
from tests.harness.testhost import MAILTUI_PYTHONPATH, TestHost

pytestmark = pytest.mark.reliability

CONNECTIONS = 20
MESSAGES = 10_000
FAULT_MESSAGES = 3_000
SENDER = "load@sender.test"
MAILDIR = "/var/mail/vhosts"
MAIL_LOG = "/var/log/mail.log"
# Recipient (users and an alias of the reliability ANSWERS) -> the one mailbox that must hold the message.
RECIPIENTS = {
    "alice@example.test": "example.test/alice",
    "bob@other.test": "other.test/bob",
    "postmaster@example.test": "example.test/alice",  # alias -> alice: one copy, in alice's maildir
}
BODY = ("The quick brown fox jumps over the lazy dog. " * 20 + "\r\n") * 2  # about 1.8 kB


@dataclass
class Item:
    mid: str  # Message-ID without the angle brackets
    rcpt: str
    data: bytes


@dataclass
class Tally:
    """What the senders saw, shared by the threads (under `lock`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    replies: Counter[int] = field(default_factory=Counter)  # every final SMTP reply code, by code
    accepted: list[Item] = field(default_factory=list)
    disconnects: int = 0  # connections lost or closed by the server (then: reconnect, retry)
    ambiguous: list[str] = field(default_factory=list)  # lost after the end of DATA: may be queued already
    failures: list[str] = field(default_factory=list)  # 5xx or given up

    def reply(self, code: int) -> None:
        with self.lock:
            self.replies[code] += 1

    def temp_failures(self) -> int:
        return sum(n for code, n in self.replies.items() if 400 <= code < 500)

    def bad_replies(self, allow_4xx: bool) -> dict[int, int]:
        ok = range(200, 500) if allow_4xx else range(200, 300)
        return {code: n for code, n in self.replies.items() if code not in ok}


def make_items(release: str, count: int, label: str) -> list[Item]:
    run = f"{label}-{release}-{uuid.uuid4().hex[:8]}"
    rcpts = list(RECIPIENTS)
    items = []
    for n in range(count):
        rcpt = rcpts[n % len(rcpts)]
        mid = f"{run}-{n:05d}@load.sender.test"
        data = (f"From: <{SENDER}>\r\nTo: <{rcpt}>\r\nSubject: load {run} {n}\r\nMessage-ID: <{mid}>\r\n"
                f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n\r\n{BODY}")
        items.append(Item(mid, rcpt, data.encode()))
    return items


def _connect(ip: str, tally: Tally) -> smtplib.SMTP:
    smtp = smtplib.SMTP(timeout=120)
    code, msg = smtp.connect(ip, 25)
    tally.reply(code)
    if code != 220:
        smtp.close()
        raise smtplib.SMTPConnectError(code, msg)
    code, msg = smtp.ehlo("load.sender.test")
    tally.reply(code)
    if code != 250:
        smtp.close()
        raise smtplib.SMTPHeloError(code, msg)
    return smtp


def _transaction(smtp: smtplib.SMTP, item: Item, tally: Tally, stage: list[str]) -> int:
    """One MAIL/RCPT/DATA transaction; the code that decided it (250 when queued)."""
    stage[0] = "mail"
    code, _ = smtp.mail(SENDER)
    tally.reply(code)
    if code == 250:
        stage[0] = "rcpt"
        code, _ = smtp.rcpt(item.rcpt)
        tally.reply(code)
        if code in (250, 251):
            stage[0] = "data"
            try:
                code, _ = smtp.data(item.data)  # a 354 in between is checked by smtplib
            except smtplib.SMTPDataError as e:  # DATA itself refused
                code = e.smtp_code
            tally.reply(code)
            stage[0] = "done"
            if 200 <= code < 300:
                return code
    if code != 421:  # 421: the server closes the connection; nothing to reset
        rcode, _ = smtp.rset()
        tally.reply(rcode)
    return code


def _close(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _sender(ip: str, work: queue.Queue[Item], tally: Tally, deadline: float) -> None:
    """One SMTP client: many messages over one connection; on 4xx or a lost connection it waits and
    retries the same message (reconnecting if need be), like an MTA's deferred queue."""
    smtp: smtplib.SMTP | None = None
    while True:
        try:
            item = work.get_nowait()
        except queue.Empty:
            break
        delay = 0.5
        while True:
            if time.monotonic() > deadline:
                with tally.lock:
                    tally.failures.append(f"{item.mid}: not accepted before the deadline")
                break
            stage = ["connect"]
            code: int | None = None
            try:
                if smtp is None:
                    smtp = _connect(ip, tally)
                code = _transaction(smtp, item, tally, stage)
            except (smtplib.SMTPException, OSError) as e:
                if isinstance(e, (smtplib.SMTPConnectError, smtplib.SMTPHeloError)):
                    code = e.smtp_code
                with tally.lock:
                    tally.disconnects += 1
                    if stage[0] == "data":
                        tally.ambiguous.append(f"{item.mid}: {e!r}")
                if smtp is not None:
                    smtp.close()
                smtp = None
            if code is not None and 200 <= code < 300:
                with tally.lock:
                    tally.accepted.append(item)
                break
            if code is not None and code >= 500:
                with tally.lock:
                    tally.failures.append(f"{item.mid}: {code} at {stage[0]}")
                break
            if code == 421 and smtp is not None:
                smtp.close()
                smtp = None
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
    _close(smtp)


def send_all(ip: str, items: list[Item], tally: Tally, timeout: float) -> float:
    """Send `items` over CONNECTIONS concurrent connections; returns the seconds it took."""
    work: queue.Queue[Item] = queue.Queue()
    for item in items:
        work.put(item)
    deadline = time.monotonic() + timeout
    began = time.monotonic()
    threads = [threading.Thread(target=_sender, args=(ip, work, tally, deadline), daemon=True)
               for _ in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 60)
    return time.monotonic() - began


def queue_entries(host: TestHost) -> list[dict]:
    out = host.run(["postqueue", "-j"], timeout=120).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def drain(host: TestHost, timeout: float, flush: bool = False) -> float:
    """Wait until Postfix's queue is empty; returns the seconds it took. With `flush`, deferred mail is
    flushed (`postqueue -f`) every 10 s instead of waiting for Postfix's retry back-off (5 min)."""
    began = time.monotonic()
    last_flush = 0.0
    while True:
        entries = queue_entries(host)
        if not entries:
            return time.monotonic() - began
        now = time.monotonic()
        if now - began > timeout:
            by_queue = Counter(e.get("queue_name") for e in entries)
            reasons = Counter(r.get("delay_reason", "")[:120] for e in entries for r in e.get("recipients", []))
            raise AssertionError(f"the queue did not drain in {timeout:.0f} s: {dict(by_queue)}; "
                                 f"reasons: {reasons.most_common(5)}")
        if flush and any(e.get("queue_name") == "deferred" for e in entries) and now - last_flush >= 10:
            host.run(["postqueue", "-f"])
            last_flush = now
        time.sleep(2)


def log_size(host: TestHost) -> int:
    return int(host.run(f"stat -c %s {MAIL_LOG} 2>/dev/null || echo 0").stdout.strip() or 0)


def log_since(host: TestHost, offset: int) -> str:
    return host.run(f"tail -c +{offset + 1} {MAIL_LOG}", check=False, timeout=120).stdout


def delivered(host: TestHost, prefix: str) -> dict[str, list[str]]:
    """Message-ID (with `prefix`) -> the mailboxes it is in, once per copy (new/ and cur/ only: Dovecot
    writes into tmp/ first)."""
    dirs = " ".join(f"{box}/new {box}/cur" for box in sorted(set(RECIPIENTS.values())))
    out = host.run(f"cd {MAILDIR} && grep -r -s -i -o -m1 '^Message-ID: <{prefix}[^>]*>' {dirs}",
                   check=False, timeout=300).stdout
    found: dict[str, list[str]] = {}
    for line in out.splitlines():
        path, _, header = line.partition(":")
        mid = header.split("<", 1)[1].rstrip(">")
        box = "/".join(path.split("/")[:2])
        found.setdefault(mid, []).append(box)
    return found


@dataclass
class Run:
    messages: int
    send_seconds: float
    drain_seconds: float
    tally: Tally
    log: str  # the mail log written during the run

    def figures(self, release: str, label: str) -> str:
        total = self.send_seconds + self.drain_seconds
        return (f"[{release}] {label}: {self.messages} messages over {CONNECTIONS} connections; "
                f"sent in {self.send_seconds:.1f} s ({self.messages / self.send_seconds:.1f} msg/s accepted), "
                f"queue drained {self.drain_seconds:.1f} s later; end to end {total:.1f} s "
                f"({self.messages / total:.1f} msg/s); 4xx replies: {self.tally.temp_failures()}; "
                f"reconnects: {self.tally.disconnects}; replies by code: {dict(sorted(self.tally.replies.items()))}")


def load_run(inst: Installed, items: list[Item], *, send_timeout: float, drain_timeout: float,
             flush: bool, during: Callable[[Tally], None] | None = None) -> Run:
    host = inst.host
    drain(host, 120, flush=True)  # start from an empty queue
    offset = log_size(host)
    tally = Tally()
    faults: threading.Thread | None = None
    if during is not None:
        faults = threading.Thread(target=during, args=(tally,), daemon=True)
        faults.start()
    send_seconds = send_all(inst.ip, items, tally, send_timeout)
    if faults is not None:
        faults.join(300)
        assert not faults.is_alive(), "the fault injection did not finish"
    drain_seconds = drain(host, drain_timeout, flush=flush)
    return Run(len(items), send_seconds, drain_seconds, tally, log_since(host, offset))


def story(log: str, mid: str) -> list[str]:
    """The mail log lines of one message: those naming its Message-ID, and those of its Postfix queue ids."""
    lines = log.splitlines()
    mine = [line for line in lines if mid in line]
    qids = {m.group(1) for line in mine if (m := re.search(r"\]: ([0-9A-F]{6,}): message-id=", line))}
    return [line for line in lines if mid in line or any(f" {q}:" in line for q in qids)]


def check_exactly_once(inst: Installed, items: list[Item], run: Run, allow_4xx: bool,
                       known_shutdown_dupes: bool = False) -> None:
    tally = run.tally
    assert not tally.failures, f"{len(tally.failures)} messages not accepted: {tally.failures[:10]}"
    bad = tally.bad_replies(allow_4xx)
    assert not bad, f"replies other than {'2xx/4xx' if allow_4xx else '2xx'} on {inst.release}: {bad}"
    assert len(tally.accepted) == len(items)
    prefix = items[0].mid.rsplit("-", 1)[0]
    found = delivered(inst.host, prefix)
    expected = {item.mid: RECIPIENTS[item.rcpt] for item in items}
    missing = [mid for mid in expected if mid not in found]
    dupes = {mid: boxes for mid, boxes in found.items() if len(boxes) > 1}
    wrong = {mid: boxes for mid, boxes in found.items() if mid in expected and boxes[0] != expected[mid]}
    unknown = [mid for mid in found if mid not in expected]
    print(f"[{inst.release}] delivered: {len(found)} distinct Message-IDs, {sum(map(len, found.values()))} "
          f"files; missing {len(missing)}, duplicated {len(dupes)}; lost-after-DATA retries "
          f"{len(tally.ambiguous)}", flush=True)
    assert not missing, f"{len(missing)} messages lost on {inst.release}, e.g. {missing[:5]}"
    shut = 0
    for n, mid in enumerate(dupes):
        lines = story(run.log, mid)
        shut += any("hutting down (in reply to end of DATA" in line for line in lines)
        if n < 2:
            print(f"[{inst.release}] mail log of the duplicated {mid}:\n  " + "\n  ".join(lines))
    assert not wrong, f"messages in the wrong mailbox: {list(wrong.items())[:5]}"
    assert not unknown, f"unexpected Message-IDs: {unknown[:5]}"
    assert len(found) == len(items)
    bounced = [line for line in run.log.splitlines() if "status=bounced" in line]
    assert not bounced, f"{len(bounced)} bounces on {inst.release}: {bounced[:5]}"
    notices = [line for line in run.log.splitlines() if "sender non-delivery notification" in line]
    assert not notices, f"bounce messages sent on {inst.release}: {notices[:5]}"
    if dupes and known_shutdown_dupes and shut == len(dupes):
        # KNOWN DEFECT (issue 5, open): restarting Dovecot while Postfix delivers over LMTP. Dovecot's LMTP
        # answers the end of DATA with "421 4.3.2 Shutting down" and still saves the message; Postfix defers
        # it and delivers it again. Nothing is lost (asserted above); only duplicates explained by exactly
        # that exchange are let through here, as an expected failure that names them.
        pytest.xfail(f"known: {len(dupes)} duplicates on {inst.release}, every one after Dovecot's LMTP answered "
                     "421 Shutting down to the end of DATA (mailtui must quiesce LMTP before restarting Dovecot)")
    assert not dupes, (f"{len(dupes)} messages delivered more than once on {inst.release} ({shut} of them: Dovecot's "
                       "LMTP answered 421 (Server) Shutting down to the end of DATA and saved the message anyway, "
                       "so Postfix deferred it and delivered it again), e.g. "
                       f"{list(dupes.items())[:5]}; sender retries after a lost DATA reply: {tally.ambiguous[:5]}")


def test_10000_messages_over_20_connections_arrive_exactly_once(secured: Installed) -> None:
    items = make_items(secured.release, MESSAGES, "load")
    run = load_run(secured, items, send_timeout=300, drain_timeout=300, flush=False)
    print("\n" + run.figures(secured.release, "plain load"), flush=True)
    check_exactly_once(secured, items, run, allow_4xx=False)


# ------------------------------------------------------------------------------------------------ faults


def _in_host(host: TestHost, cmd: str, log: list[str]) -> None:
    began = time.monotonic()
    result = host.run(cmd, check=False, timeout=180)
    log.append(f"{cmd!r}: exit {result.returncode} in {time.monotonic() - began:.1f} s")
    assert result.returncode == 0, f"{cmd!r} failed (exit {result.returncode}): {result.stdout}{result.stderr}"


def fault_plan(host: TestHost, total: int, steps: list[tuple[float, list[str]]], log: list[str],
               errors: list[str]) -> Callable[[Tally], None]:
    """Run each step's commands inside the host once `share` of the messages are accepted: each fault
    while the senders are busy."""

    def run(tally: Tally) -> None:
        try:
            for share, cmds in steps:
                while len(tally.accepted) < share * total:
                    time.sleep(0.1)
                log.append(f"at {len(tally.accepted)}/{total} accepted:")
                for cmd in cmds:
                    _in_host(host, f"cd / && PYTHONPATH={MAILTUI_PYTHONPATH} {cmd}", log)
        except Exception as e:  # reported by the test, not lost in the thread
            errors.append(repr(e))

    return run


KILL_MARIADB = ["pkill -9 -x mariadbd", "sleep 3", "python3 -m mailtui service start mariadb"]
RESTART_DOVECOT = ["python3 -m mailtui service restart dovecot"]


def fault_test(inst: Installed, label: str, steps: list[tuple[float, list[str]]],
               known_shutdown_dupes: bool = False) -> None:
    host = inst.host
    items = make_items(inst.release, FAULT_MESSAGES, "fault")
    log: list[str] = []
    errors: list[str] = []
    run = load_run(inst, items, send_timeout=300, drain_timeout=300, flush=True,
                   during=fault_plan(host, len(items), steps, log, errors))
    print("\n" + run.figures(inst.release, label), flush=True)
    print("\n".join(f"[{inst.release}]   {line}" for line in log), flush=True)
    assert not errors, f"fault injection failed: {errors}"
    assert len([line for line in log if "exit 0" in line]) == sum(len(cmds) for _, cmds in steps), log
    # Control: the whole stack is up again.
    status = host.mailtui("service", "status", "--json", check=False)
    assert status.returncode == 0, status.stdout + status.stderr
    states = {row["name"]: row for row in json.loads(status.stdout)["services"]}
    assert all(states[name]["running"] for name in ("postfix", "dovecot", "mariadb")), states
    check_exactly_once(inst, items, run, allow_4xx=True, known_shutdown_dupes=known_shutdown_dupes)


def test_messages_arrive_exactly_once_while_mariadb_is_killed(secured: Installed) -> None:
    """MariaDB killed with SIGKILL at 35 %, started again 3 s later (Postfix 3.7 on Debian 12 then keeps
    the database host marked down for 60 s: 4xx meanwhile, retried by the senders)."""
    fault_test(secured, "MariaDB killed once (kill -9)", [(0.35, KILL_MARIADB)])


def test_messages_arrive_exactly_once_while_dovecot_restarts_twice(secured: Installed) -> None:
    """`mailtui service restart dovecot` at 15 % and at 60 % of the messages accepted."""
    fault_test(secured, "Dovecot restarted twice", [(0.15, RESTART_DOVECOT), (0.60, RESTART_DOVECOT)],
               known_shutdown_dupes=True)
