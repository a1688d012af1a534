"""rspamd's scan lines (its log file) as the Spam view's counts per hour and the hourly limit's holds. The lines
are rspamd's default log_format; tests/e2e/test_spam.py reads the real log of rspamd 3.4 and 3.12."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mailtui.ops import spam
from mailtui.policy import spam as policy
from mailtui.stack.rspamd_log import parse_scan, per_hour

NOW = datetime(2026, 12, 6, 18, 30, 0).astimezone()


def scan_line(at: datetime, action: str, *, score: str = "1.50", user: str = "", qid: str = "4F1A2B3C4D",
              sender: str = "a@sender.test", rcpts: str = "alice@example.test") -> str:
    user_field = f" user: {user}," if user else ""
    spam_flag = "T" if action in ("reject", "add header") else "F"
    return (f"{at:%Y-%m-%d %H:%M:%S} #2071(rspamd_proxy) <4c1e7a>; proxy; rspamd_task_write_log: "
            f"id: <m1@sender.test>, qid: <{qid}>, ip: 198.18.0.4,{user_field} from: <{sender}>, "
            f"(default: {spam_flag} ({action}): [{score}/15.00] [R_SPF_ALLOW(-0.20){{+ip4:198.18.0.0/15;}},"
            f"FAKE_RULE(1.70){{ip: 1.2.3.4, user: mallory;}}]), len: 512, time: 21.3ms, dns req: 2, "
            f"digest: <0123456789abcdef>, rcpts: <{rcpts}>, mime_rcpts: <{rcpts}>")


OTHER = [
    "2026-12-06 18:29:59 #2071(rspamd_proxy) <4c1e7a>; proxy; rspamd_proxy_self_scan: check for a message",
    "2026-12-06 18:29:59 #2075(controller) <a1b2c3>; csession; rspamd_controller_learn_fin_task: <127.0.0.1> "
    "learned message as spam: m1@sender.test",
    "2026-12-06 18:29:59 #2071(rspamd_proxy) <4c1e7a>; lua; ratelimit.lua:456: ratelimit \"user(carol)\" exceeded",
    "garbage",
    "",
]


def test_a_scan_line_is_read_field_by_field() -> None:
    scan = parse_scan(scan_line(NOW, "reject", score="1015.50", user="carol@example.test"))
    assert scan is not None
    assert (scan.action, scan.score, scan.required) == ("reject", 1015.5, 15.0)
    assert (scan.queue_id, scan.ip, scan.user, scan.sender) == ("4F1A2B3C4D", "198.18.0.4", "carol@example.test",
                                                               "a@sender.test")
    assert scan.recipients == ("alice@example.test",)
    assert scan.ts == NOW


def test_fields_are_read_before_the_result_only() -> None:
    # a rule's options may hold "user: …" or "ip: …": mail from outside names no user
    scan = parse_scan(scan_line(NOW, "no action"))
    assert scan is not None and (scan.user, scan.ip) == ("", "198.18.0.4")


@pytest.mark.parametrize("action", ["no action", "greylist", "add header", "rewrite subject", "soft reject",
                                    "reject"])
def test_every_action(action: str) -> None:
    scan = parse_scan(scan_line(NOW, action))
    assert scan is not None and scan.action == action


def test_greylisting_is_a_soft_reject_with_its_symbol_the_hourly_limit_one_without() -> None:
    grey = parse_scan(scan_line(NOW, "soft reject").replace("[R_SPF_ALLOW(-0.20)", "[GREYLIST(0.00){greylisted;},"
                                                                                   "R_SPF_ALLOW(-0.20)"))
    limit = parse_scan(scan_line(NOW, "soft reject", user="carol@example.test"))
    assert grey is not None and limit is not None
    assert grey.symbols == ("GREYLIST", "R_SPF_ALLOW", "FAKE_RULE") and grey.kind == "greylisted"
    assert limit.kind == "limited"
    counts = per_hour([grey, limit], now=NOW)
    assert (counts["greylisted"][-1], counts["limited"][-1]) == (1, 1)


def test_other_lines_are_not_scans() -> None:
    assert [parse_scan(line) for line in OTHER] == [None] * len(OTHER)


def test_several_recipients() -> None:
    scan = parse_scan(scan_line(NOW, "no action", rcpts="a@x.test,b@x.test"))
    assert scan is not None and scan.recipients == ("a@x.test", "b@x.test")


def test_counts_per_hour_oldest_first() -> None:
    scans = [parse_scan(scan_line(NOW - timedelta(hours=h), a)) for h, a in
             [(0, "reject"), (0, "no action"), (1, "greylist"), (2, "add header"), (2, "soft reject"),
              (23, "no action"), (24, "reject")]]
    counts = per_hour([s for s in scans if s], hours=24, now=NOW)
    assert counts["scanned"][-1] == 2 and counts["refused"][-1] == 1
    assert counts["greylisted"][-2] == 1
    assert (counts["junked"][-3], counts["limited"][-3]) == (1, 1)
    assert counts["scanned"][0] == 1  # 23 hours ago: the oldest hour; 24 hours ago is outside
    assert sum(counts["refused"]) == 1


def test_the_log_is_read_back_to_the_window_and_into_the_rotated_file(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "rspamd.log"
    rotated = tmp_path / "rspamd.log.1"
    rotated.write_text("\n".join([scan_line(NOW - timedelta(hours=30), "reject"),
                                  scan_line(NOW - timedelta(hours=5), "soft reject", user="carol@example.test"),
                                  *OTHER]) + "\n")
    log.write_text("\n".join([scan_line(NOW - timedelta(hours=3), "soft reject", user="carol@example.test"),
                              *OTHER,
                              scan_line(NOW - timedelta(minutes=5), "reject", user="dave@example.test"),
                              scan_line(NOW - timedelta(minutes=4), "soft reject", user="dave@example.test"),
                              scan_line(NOW - timedelta(minutes=3), "soft reject", user="carol@example.test"),
                              scan_line(NOW - timedelta(minutes=2), "no action")]) + "\n")
    monkeypatch.setattr(policy, "RSPAMD_LOG", str(log))
    scans = spam.recent_scans(now=NOW)
    assert len(scans) == 6  # not the one of 30 hours ago
    assert scans[0].action == "no action"  # newest first
    window = spam.window_from(scans, now=NOW)
    assert [(x.user, x.times) for x in window["limited"]] == [("carol@example.test", 3), ("dave@example.test", 1)]
    assert window["limited"][0].last == (NOW - timedelta(minutes=3)).timestamp()
    assert window["refused_outbound"] == 1
    assert sum(window["hourly"]["scanned"]) == 6
    assert window["hour_end"] == NOW.replace(minute=0).timestamp()


def test_no_log_no_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy, "RSPAMD_LOG", str(tmp_path / "absent.log"))
    window = spam.window_from(spam.recent_scans(now=NOW), now=NOW)
    assert window["limited"] == [] and sum(window["hourly"]["scanned"]) == 0


def test_a_later_call_reads_only_what_rspamd_appended_and_a_rotation_afresh(tmp_path: Path) -> None:
    log, rotated = tmp_path / "rspamd.log", tmp_path / "rspamd.log.1"
    paths = (str(log), str(rotated))
    first = [scan_line(NOW - timedelta(minutes=m), "no action", qid=f"Q{m}") for m in (9, 8)]
    log.write_text("\n".join(first) + "\n")
    assert [s.queue_id for s in spam.recent_scans(paths, now=NOW)] == ["Q8", "Q9"]
    later = scan_line(NOW - timedelta(minutes=7), "reject", qid="Q7")
    partial = scan_line(NOW - timedelta(minutes=6), "reject", qid="Q6")
    with log.open("a") as f:
        f.write(later + "\n" + partial[:40])  # rspamd is still writing the last line
    assert [s.queue_id for s in spam.recent_scans(paths, now=NOW)] == ["Q7", "Q8", "Q9"]
    with log.open("a") as f:
        f.write(partial[40:] + "\n")
    assert [s.queue_id for s in spam.recent_scans(paths, now=NOW)] == ["Q6", "Q7", "Q8", "Q9"]
    # what was read is not read again: a line changed in place is not seen (rspamd only appends)
    log.write_bytes(log.read_bytes().replace(b"qid: <Q9>", b"qid: <QX>"))
    assert [s.queue_id for s in spam.recent_scans(paths, now=NOW)][-1] == "Q9"
    # logrotate: the log becomes rspamd.log.1, a new file takes its place
    log.rename(rotated)
    log.write_text(scan_line(NOW - timedelta(minutes=1), "greylist", qid="Q1") + "\n")
    assert [s.queue_id for s in spam.recent_scans(paths, now=NOW)] == ["Q1", "Q6", "Q7", "Q8", "QX"]
    # truncated (copytruncate): read afresh
    log.write_text("")
    assert [s.queue_id for s in spam.recent_scans(paths, now=NOW)] == ["Q6", "Q7", "Q8", "QX"]
    # a day later the window has moved on: the scans before it are dropped
    assert spam.recent_scans(paths, now=NOW + timedelta(hours=24)) == []
