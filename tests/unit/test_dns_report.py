"""The DNS report: `mailtui dns`'s text is a zone-file fragment (records as lines, the rest comments), TXT
values split at 255 characters, PTR as the reverse name; written on request, refusing bad paths by name."""

from __future__ import annotations

import json
import shlex
import stat
from pathlib import Path

import pytest

from mailtui.api.types import DnsReport
from mailtui.cli import main as cli
from mailtui.errors import ValidationError
from mailtui.model.answers import Answers, Domain, User
from mailtui.ops import dns
from tests.scripted import ScriptedOperations

ANSWERS = Answers(hostname="mail.shop.test", domains=[Domain("shop.test")], users=[User("a@shop.test", "x")])


def records_of(text: str) -> list[list[str]]:
    """The zone lines of the text (comments and blank lines dropped), split at whitespace outside quotes."""
    return [shlex.split(line, posix=False) for line in text.splitlines() if line and not line.startswith(";")]


def test_records_are_zone_lines_and_the_rest_is_comments() -> None:
    report = dns.report(ANSWERS, "203.0.113.7", "2001:db8::7", ["shop.test", "later.test"])
    text = dns.report_text(report)
    zone = records_of(text)
    assert ["mail.shop.test.", "IN", "A", "203.0.113.7"] in zone
    assert ["mail.shop.test.", "IN", "AAAA", "2001:db8::7"] in zone
    assert ["later.test.", "IN", "MX", "10", "mail.shop.test."] in zone  # a domain not in the answers
    assert ["shop.test.", "IN", "TXT", '"v=spf1 mx -all"'] in zone
    assert all(line[1] == "IN" and line[0].endswith(".") for line in zone)
    assert not any(line[2] == "PTR" for line in zone)  # reverse DNS is not in your zone: a comment
    assert ";   7.113.0.203.in-addr.arpa. IN PTR mail.shop.test." in text
    assert "Incoming mail (IMAP) server: mail.shop.test" in text


def test_long_txt_values_are_split_into_strings_of_at_most_255() -> None:
    key = "v=DKIM1; k=rsa; p=" + "A" * 392  # the size of a 2048-bit key
    record = dns.DnsRecord("mail._domainkey.shop.test", "TXT", key, "DKIM")
    report = DnsReport("mail.shop.test", None, None, ["shop.test"], [record], [])
    [line] = records_of(dns.report_text(report))
    strings = [s.strip('"') for s in line[3:]]
    assert len(strings) == 2 and all(len(s) <= 255 for s in strings) and "".join(strings) == key


def test_unknown_address_keeps_the_placeholder() -> None:
    text = dns.report_text(dns.report(ANSWERS, None, None))
    assert f"mail.shop.test. IN A {dns.IPV4_PLACEHOLDER}" in text


def test_write_report_refuses_bad_paths_by_name_and_writes_0644(tmp_path: Path) -> None:
    report = dns.report(ANSWERS, "203.0.113.7", None)
    for bad, words in ((Path("relative.txt"), "not an absolute path"), (tmp_path, "is a directory"),
                       (tmp_path / "missing" / "dns.txt", "does not exist")):
        with pytest.raises(ValidationError) as refused:
            dns.write_report(report, bad)
        assert list(refused.value.problems) == ["path"] and words in refused.value.problems["path"]
    target = tmp_path / "dns.txt"
    dns.write_report(report, target)
    assert target.read_text() == dns.report_text(report)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


class DnsOps(ScriptedOperations):
    """An installed server serving shop.test and later.test (the real report and writer)."""

    def dns_report(self, answers: Answers | None = None) -> DnsReport:
        return dns.report(ANSWERS, "203.0.113.7", None, ["shop.test", "later.test"])

    def write_dns_report(self, report: DnsReport, path: Path) -> Path:
        return dns.write_report(report, path)


def test_cli_prints_writes_and_gives_json(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli.main(["dns"], DnsOps()) == 0
    printed = capsys.readouterr().out
    assert printed == dns.report_text(DnsOps().dns_report())
    monkeypatch.chdir(tmp_path)
    assert cli.main(["dns", "--output", "zone.txt"], DnsOps()) == 0  # relative to where it runs
    assert (tmp_path / "zone.txt").read_text() == printed
    assert "2 domain(s)" in capsys.readouterr().out
    assert cli.main(["dns", "--json"], DnsOps()) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["domains"] == ["shop.test", "later.test"] and data["ipv4"] == "203.0.113.7"
    assert {"name": "later.test", "type": "MX", "value": "10 mail.shop.test",
            "note": "mail for later.test is delivered to mail.shop.test"} in data["records"]
    assert cli.main(["dns", "--output", str(tmp_path / "nowhere" / "x.txt")], DnsOps()) == 2
    assert "path:" in capsys.readouterr().err
