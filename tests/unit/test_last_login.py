"""Last login per mailbox, from Dovecot's login lines in a (temporary) mail log."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from mailtui import paths
from mailtui.ops import last_login
from mailtui.ops.last_login import last_logins
from mailtui.stack import logfile

NOW = datetime(2026, 11, 26, 12, 0, 0)

# Dovecot 2.3 through syslog ("Login:"), Dovecot 2.4 with its own log_path ("Info: Logged in:"), POP3, and
# rsyslog's RFC 3339 stamps; plus lines that name a user but are no login.
LINES = [
    "Nov 25 14:37:32 mail dovecot: imap-login: Login: user=<alice@example.test>, method=PLAIN, rip=198.18.0.2,"
    " lip=198.18.0.1, mpid=2201, TLS, session=<AbCdEf12>",
    "Nov 25 14:38:02 mail dovecot: imap-login: Info: Disconnected: Connection closed (auth failed, 1 attempts in 2"
    " secs): user=<bob@example.test>, method=PLAIN, rip=198.18.0.2, lip=198.18.0.1, TLS, session=<Xy12>",
    "Nov 25 14:40:10 mail dovecot: pop3-login: Login: user=<carol@example.test>, method=PLAIN, rip=198.18.0.3,"
    " lip=198.18.0.1, mpid=2301, TLS, session=<Pp01>",
    "Nov 25 15:36:29 mail dovecot: imap-login: Info: Logged in: user=<alice@example.test>, method=PLAIN,"
    " rip=127.0.0.1, lip=127.0.0.1, mpid=4334, TLS, session=<9pE5lxthxol/AAAB>",
    "Nov 25 15:36:33 mail postfix/lmtp[4381]: B29BA1ACA25: to=<bob@example.test>, relay=mail.example.test"
    "[private/dovecot-lmtp], delay=0.05, dsn=2.0.0, status=sent (250 2.0.0 <bob@example.test> kE5g Saved)",
    "Nov 25 15:36:40 mail dovecot: imap(alice@example.test)<4334><9pE5lxthxol/AAAB>: Info: Disconnected:"
    " Logged out in=33 out=795",
    "Nov 25 15:46:02 mail dovecot: imap-login: Info: Login aborted: Logged out (auth failed, 1 attempts in 2"
    " secs) (auth_failed): user=<dave@example.test>, method=PLAIN, rip=198.18.0.2, lip=198.18.0.1, TLS,"
    " session=<Qw34>",
    "2026-11-25T16:27:03+00:00 mail dovecot: imap-login: Login: user=<Erin@Example.test>, method=PLAIN,"
    " rip=198.18.0.2, lip=198.18.0.1, mpid=3001, TLS, session=<Zz9>",
]


def local(month: int, day: int, h: int, m: int, s: int) -> datetime:
    return datetime(2026, month, day, h, m, s).astimezone()


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_newest_login_of_each_user_2_3_and_2_4_formats(tmp_path: Path) -> None:
    log = write(tmp_path / "mail.log", LINES)
    asked = ["alice@example.test", "carol@example.test", "erin@example.test", "bob@example.test",
             "dave@example.test", "nobody@example.test"]
    got = last_logins(asked, log, now=NOW)
    assert list(got) == asked  # every asked address has an answer, in the order asked
    assert got["alice@example.test"] == local(11, 25, 15, 36, 29)  # the 2.4 line, newer than the 2.3 one
    assert got["carol@example.test"] == local(11, 25, 14, 40, 10)  # POP3
    assert got["erin@example.test"] == datetime.fromisoformat("2026-11-25T16:27:03+00:00")
    # a failed login, a delivery, a logout and a login aborted are no logins
    assert got["bob@example.test"] is None and got["dave@example.test"] is None
    assert got["nobody@example.test"] is None


def test_keys_are_as_asked_and_matched_case_insensitively(tmp_path: Path) -> None:
    log = write(tmp_path / "mail.log", LINES)
    got = last_logins(["Alice@Example.TEST", "alice@example.test"], log, now=NOW)
    assert got == {"Alice@Example.TEST": local(11, 25, 15, 36, 29), "alice@example.test": local(11, 25, 15, 36, 29)}


def test_missing_log_and_no_emails(tmp_path: Path) -> None:
    assert last_logins(["alice@example.test"], tmp_path / "absent.log") == {"alice@example.test": None}
    assert last_logins([], tmp_path / "absent.log") == {}


def test_default_path_is_the_mail_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = write(tmp_path / "mail.log", LINES)
    monkeypatch.setattr(paths, "MAIL_LOG", str(log))
    assert last_logins(["carol@example.test"], now=NOW)["carol@example.test"] == local(11, 25, 14, 40, 10)


FILLER = ("Nov 25 15:50:{s:02d} mail postfix/smtpd[7400]: connect from unknown[198.18.0.9]")


def test_the_byte_budget_bounds_the_scan(tmp_path: Path) -> None:
    filler = [FILLER.format(s=i % 60) for i in range(2000)]  # ~150 KB of newer lines
    log = write(tmp_path / "mail.log", [LINES[2], *filler])
    assert last_logins(["carol@example.test"], log, max_bytes=10_000, now=NOW)["carol@example.test"] is None
    assert last_logins(["carol@example.test"], log, max_bytes=1_000_000, now=NOW)["carol@example.test"] == \
        local(11, 25, 14, 40, 10)


def test_the_rotated_file_is_read_when_the_budget_allows(tmp_path: Path) -> None:
    log = write(tmp_path / "mail.log", [LINES[3], FILLER.format(s=1)])
    write(tmp_path / "mail.log.1", [LINES[0], LINES[2]])  # older: alice's 2.3 login, carol's POP3 login
    got = last_logins(["alice@example.test", "carol@example.test"], log, now=NOW)
    assert got == {"alice@example.test": local(11, 25, 15, 36, 29),  # the current file's newer login wins
                   "carol@example.test": local(11, 25, 14, 40, 10)}  # only in mail.log.1

    big = write(tmp_path / "mail.log", [FILLER.format(s=i % 60) for i in range(2000)])
    assert last_logins(["carol@example.test"], big, max_bytes=50_000, now=NOW)["carol@example.test"] is None
    assert last_logins(["carol@example.test"], big, max_bytes=500_000, now=NOW)["carol@example.test"] is not None


def test_the_scan_stops_once_every_address_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = write(tmp_path / "mail.log", [FILLER.format(s=i % 60) for i in range(5000)] + LINES)
    write(tmp_path / "mail.log.1", LINES)
    read: list[str] = []
    real = logfile.iter_lines_backwards

    def counting(path: Path):  # noqa: ANN202
        for line in real(path):
            read.append(line)
            yield line

    monkeypatch.setattr(last_login.logfile, "iter_lines_backwards", counting)
    got = last_logins(["alice@example.test", "carol@example.test"], log, now=NOW)
    assert got["alice@example.test"] == local(11, 25, 15, 36, 29)
    assert got["carol@example.test"] == local(11, 25, 14, 40, 10)
    assert len(read) == 6  # the newest six lines: carol's login is the sixth from the end; mail.log.1 unread


def test_a_page_of_50_in_a_64_mib_log_is_fast(tmp_path: Path) -> None:
    import time

    line = FILLER.format(s=7) + "\n"
    (tmp_path / "mail.log").write_text(line * (64 * 1024 * 1024 // len(line)))
    started = time.monotonic()
    got = last_logins([f"user{i}@example.test" for i in range(50)], tmp_path / "mail.log", now=NOW)
    assert set(got.values()) == {None}
    assert time.monotonic() - started < 5.0
