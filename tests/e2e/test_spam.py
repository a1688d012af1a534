"""The spam filter ([spam]: rspamd's scores through the milter, Redis, a Sieve script filing into Junk), end to
end on Debian 12 and 13, from an outside sender: a second host on the test network, outside mynetworks, talking
to port 25 as any mail server on the Internet would.

The thresholds are the answers' defaults (greylist 4, add header 6, reject 15). The test profile adds one rule
to rspamd, a header whose number is added to the score (X-Mailtui-Test-Score), so each message reaches the
threshold the test means: the fixture measures what an ordinary message from the sender scores by itself (its
X-Spam-Status; ~2.4 here, mostly HFILTER_HOSTNAME_UNKNOWN: the test profile has Postfix look up no client
names) and each test asks for the rest of the score it means.
"""

from __future__ import annotations

import ipaddress
import json
import re
import smtplib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import pytest

from mailtui.model.answers import DNSBL_DEFAULT
from tests.e2e.conftest import ANSWERS, HOSTNAME, PASSWORDS, RELEASES, start_sink
from tests.e2e.test_dns_check import zones_from
from tests.e2e.test_mail import tls_context
from tests.harness.testhost import MAILTUI_PYTHONPATH, TestHost, stack_layer, test_network
from tests.harness.testhost.dns import DnsServer, query_from
from tests.harness.testhost.network import TestNetwork

pytestmark = pytest.mark.e2e
ENV = {"PYTHONPATH": MAILTUI_PYTHONPATH}
SPAM_ANSWERS = ANSWERS + """
[dkim]
enabled = true

[spam]
enabled = true
hourly_limit = 3
dnsbl = [{lists}]
""".replace("{lists}", ", ".join(f'"{entry}"' for entry in (*DNSBL_DEFAULT, "bl.example.test=127.0.0.5*3")))
ALICE, BOB = "alice@example.test", "bob@other.test"
SENDER_HOST = "sender.test"  # the outside sending server: its name, and its users' domain
MAILDIR = "/var/mail/vhosts"
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
DNSBL = "zen.spamhaus.org"  # the block list the tests list hosts in (model/answers.DNSBL_DEFAULT)
OWN_DNSBL = "bl.example.test"  # a list the answers add (listed: 127.0.0.5)
GREYLIST_DELAY = 3.0  # the test profile's greylist timeout (mailtui.policy.spam.GREYLIST_DELAY)
# On the sender host: one SMTP transaction to port 25; prints the server's answer to the whole of it.
SEND = r"""
import json, smtplib, sys
host, sender, rcpt = sys.argv[1:4]
data = sys.stdin.buffer.read()
try:
    with smtplib.SMTP(host, 25, local_hostname=sys.argv[4], timeout=60) as smtp:
        smtp.ehlo()
        code, reply = smtp.mail(sender)
        if code == 250:
            code, reply = smtp.rcpt(rcpt)
        if code in (250, 251):
            code, reply = smtp.data(data)
except smtplib.SMTPResponseException as exc:
    code, reply = exc.smtp_code, exc.smtp_error
print(json.dumps({"code": code, "reply": reply.decode(errors="replace")}))
"""


@dataclass
class SpamServer:
    release: str
    mx: TestHost
    sender: TestHost
    net: TestNetwork
    dns: DnsServer
    zones: dict[str, str]  # what the test DNS serves
    resolv_conf: str  # the mail server's /etc/resolv.conf before the install
    base: float = 0.0  # what an ordinary message from the sender scores by itself

    def score(self, total: float) -> float:
        """The test rule's number that brings an ordinary message to `total`."""
        return round(total - self.base, 2)

    def mailtui(self, *args: str) -> tuple[int, str]:
        result = self.mx.run(["python3", "-m", "mailtui", *args], env=ENV, check=False, timeout=300)
        return result.returncode, result.stdout + result.stderr

    def send(self, message: EmailMessage, sender: str, rcpt: str, *, via: TestHost | None = None,
             helo: str = SENDER_HOST) -> tuple[int, str]:
        """From the outside sender (or another host, `via`) to port 25: the server's answer to the transaction."""
        result = (via or self.sender).run(["python3", "-c", SEND, self.mx.ip, sender, rcpt, helo],
                                          input=message.as_bytes(), check=False, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        answer = json.loads(result.stdout.strip().splitlines()[-1])
        return answer["code"], answer["reply"]


@pytest.fixture(scope="module", params=RELEASES)
def spam_server(request: pytest.FixtureRequest) -> Iterator[SpamServer]:
    release = request.param
    with test_network() as net:
        dns = net.dns(release)
        mx = net.host(release, "mail", hostname=HOSTNAME, layers=[stack_layer(release, SPAM_ANSWERS)])
        sender = net.host(release, "sender", hostname=SENDER_HOST)
        mx.write_file("/root/answers.toml", SPAM_ANSWERS, mode=0o600)
        resolv_conf = mx.read_file("/etc/resolv.conf")  # names the test DNS
        began = time.monotonic()
        installed = mx.mailtui("install", "--answers", "/root/answers.toml", "--yes", env=ENV, check=False,
                               timeout=600)
        assert installed.returncode == 0, installed.stdout[-4000:] + installed.stderr
        print(f"\n[{release}] install with the spam filter took {time.monotonic() - began:.1f} s")
        # unbound is started once, on its final configuration, before resolv.conf names it (not restarted again)
        said = installed.stdout
        assert said.count("starting unbound on its new configuration") == 1 and "restarting unbound" not in said, \
            [line for line in said.splitlines() if "unbound" in line]
        start_sink(mx)
        # The world as a well-run sending server sees it: the records mailtui prints for this server, and the
        # sender's own name, address, reverse name and SPF record (without them rspamd adds ~4.5 points for a
        # nameless host and waits on DNS for every message).
        zones = zones_from(mx.run(["python3", "-m", "mailtui", "dns", "--zone"], env=ENV).stdout, mx.ip)
        add_sending_server(zones, SENDER_HOST, sender.ip)
        # Spamhaus's zone as the test DNS serves it: its documented test entry only (127.0.0.2 is listed), so
        # postscreen asks about the sender and finds it unlisted.
        zones[DNSBL] = f"{dnsbl_name('127.0.0.2')}. IN A 127.0.0.2\n"
        dns.serve(zones)
        dns.log_queries()
        wait_until_resolved(mx, dnsbl_name("127.0.0.2"), "127.0.0.2")
        server = SpamServer(release, mx, sender, net, dns, zones, resolv_conf)
        probe = marker()
        code, reply = server.send(message("ann@sender.test", ALICE, probe), "ann@sender.test", ALICE)
        assert code == 250, (code, reply)
        head = headers(server, where(server, ALICE, probe)[1])
        verdict, server.base = spam_status(head)
        print(f"\n[{release}] an ordinary message from the sender scores {server.base:g} by itself")
        # Below the greylist score with room to spare: the test rule's number decides.
        assert verdict == "No" and server.base < 3, head
        yield server


def wait_until_resolved(mx: TestHost, name: str, address: str, timeout: float = 30) -> None:
    """Until the mail server's resolver (unbound on 127.0.0.1, which postscreen's dnsblog asks) answers `name`
    with `address`. The test DNS served nothing during the install and was restarted on its zones just now, so
    unbound may still count it as down for a while (twice in ~20 runs the sender's first DNSBL question never
    reached the DNS: "dnsblog_query: lookup error", 2026-12-07); a real server's DNS is there before its install."""
    deadline = time.monotonic() + timeout
    while True:
        got = query_from(mx, "127.0.0.1", name)
        if [data for _name, kind, data in got.get("records", []) if kind == "A"] == [address]:
            return
        assert time.monotonic() < deadline, f"the mail server's resolver never answered {name} with {address}: {got!r}"
        time.sleep(0.5)


def add_sending_server(zones: dict[str, str], name: str, ip: str) -> None:
    """A well-run sending server's records: its name, address, reverse name and SPF record (without them rspamd
    adds ~4.5 points for a nameless host)."""
    zones[name] = f"{name}. IN A {ip}\n{name}. IN TXT \"v=spf1 ip4:{ip} -all\"\n"
    zones["18.198.in-addr.arpa"] += f"{ipaddress.ip_address(ip).reverse_pointer}. IN PTR {name}.\n"


def dnsbl_name(ip: str, zone: str = DNSBL) -> str:
    """The name a DNS block list is asked about `ip` by: its octets reversed, under the list's zone."""
    return ipaddress.ip_address(ip).reverse_pointer.removesuffix(".in-addr.arpa") + "." + zone


def message(sender: str, to: str, marker: str, *, score: float | None = None, body: str = "") -> EmailMessage:
    """A well-formed message (Date, Message-ID, a plain body), so that it scores next to nothing by itself."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, f"Meeting notes {marker}"
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@{sender.split('@')[1]}>"
    if score is not None:
        msg["X-Mailtui-Test-Score"] = f"{score:g}"
    msg.set_content(body or f"Hello,\n\nthe notes of today's meeting are below ({marker}).\n\nRegards\n")
    return msg


def box(address: str, folder: str = "") -> str:
    local, domain = address.split("@")
    return f"{MAILDIR}/{domain}/{local}" + (f"/.{folder}" if folder else "")


def where(s: SpamServer, address: str, marker: str, timeout: float = 30) -> tuple[str, str]:
    """(folder, file) of the delivered message holding `marker` in the address's mailbox: folder "" is the
    inbox."""
    base = box(address)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = s.mx.run(f"grep -rl -- {marker} {base}/new {base}/cur {base}/.*/new {base}/.*/cur 2>/dev/null",
                         check=False).stdout.split()
        if found:
            path = found[0]
            folder = path[len(base) + 1:].split("/")[0]
            return (folder.removeprefix(".") if folder.startswith(".") else ""), path
        time.sleep(0.3)
    log = s.mx.run("tail -n 30 /var/log/mail.log", check=False).stdout
    raise AssertionError(f"{marker} never reached {address} on {s.release}; mail.log:\n{log}")


def delivered_anywhere(s: SpamServer, marker: str) -> bool:
    return s.mx.run(["grep", "-rlq", "--", marker, MAILDIR], check=False).returncode == 0


def headers(s: SpamServer, path: str) -> str:
    return s.mx.read_file(path).split("\n\n", 1)[0]


def spam_status(head: str) -> tuple[str, float]:
    match = re.search(r"^X-Spam-Status: (Yes|No), score=(-?[0-9.]+)", head, re.M)
    assert match, head
    return match.group(1), float(match.group(2))


def send_past_greylisting(s: SpamServer, msg: EmailMessage, sender: str, rcpt: str) -> tuple[int, str, int]:
    """Send; while deferred by greylisting, retry after the delay, as a sending server would. Returns the
    final answer and how many times it was deferred."""
    deferred = 0
    code, reply = s.send(msg, sender, rcpt)
    while code == 451 and deferred < 3:
        deferred += 1
        time.sleep(GREYLIST_DELAY + 1)
        code, reply = s.send(msg, sender, rcpt)
    return code, reply, deferred


def marker() -> str:
    return f"spam{uuid.uuid4().hex[:12]}"


def test_an_ordinary_message_is_delivered_with_its_score_and_gtube_is_refused(spam_server: SpamServer) -> None:
    s = spam_server
    ham = marker()
    code, reply = s.send(message("ann@sender.test", ALICE, ham), "ann@sender.test", ALICE)
    assert code == 250, (code, reply)
    folder, path = where(s, ALICE, ham)
    head = headers(s, path)
    assert folder == "" and spam_status(head) == ("No", s.base), head

    gtube = marker()
    code, reply = s.send(message("ann@sender.test", ALICE, gtube, body=f"{gtube}\n{GTUBE}\n"), "ann@sender.test",
                         ALICE)
    # Refused at the end of DATA (never dropped): rspamd's reply names the pattern.
    assert code == 554 and reply.startswith("5.7.1"), (code, reply)
    time.sleep(2)
    assert not delivered_anywhere(s, gtube)
    log = s.mx.run(["grep", "-c", "milter-reject: END-OF-MESSAGE", "/var/log/mail.log"], check=False).stdout
    assert int(log.strip() or 0) >= 1


def test_a_message_over_the_add_header_score_is_filed_into_junk(spam_server: SpamServer) -> None:
    s = spam_server
    junk = marker()
    code, reply, deferred = send_past_greylisting(s, message("bo@sender.test", ALICE, junk, score=s.score(8)),
                                                  "bo@sender.test", ALICE)
    assert code == 250, (code, reply)
    folder, path = where(s, ALICE, junk)
    head = headers(s, path)
    assert folder == "Junk" and re.search(r"^X-Spam: Yes$", head, re.M), (folder, head)
    assert spam_status(head)[0] == "Yes"
    # Control: the same sender's next message, scoring nothing, goes to the inbox.
    ham = marker()
    assert s.send(message("bo@sender.test", ALICE, ham), "bo@sender.test", ALICE)[0] == 250
    assert where(s, ALICE, ham)[0] == ""


def test_a_new_sender_over_the_greylist_score_is_deferred_once_then_accepted(spam_server: SpamServer) -> None:
    s = spam_server
    grey = marker()
    sender = f"{grey}@sender.test"  # a sender rspamd has never seen
    msg = message(sender, BOB, grey, score=s.score(5))
    code, reply = s.send(msg, sender, BOB)
    assert code == 451 and reply.startswith("4.7.1"), (code, reply)
    assert s.send(msg, sender, BOB)[0] == 451  # retried at once: still too early
    time.sleep(GREYLIST_DELAY + 1)
    code, reply = s.send(msg, sender, BOB)
    assert code == 250, (code, reply)
    folder, path = where(s, BOB, grey)
    head = headers(s, path)
    assert folder == "" and spam_status(head)[0] == "No", head  # 5 is below the add-header score


def submit_as(s: SpamServer, login: str, password: str, msg: EmailMessage) -> tuple[int, str]:
    """A logged-in user's message through 587: the server's answer at the end of DATA."""
    with smtplib.SMTP(s.mx.ip, 587, timeout=60) as smtp:
        smtp.starttls(context=tls_context())
        smtp.login(login, password)
        try:
            smtp.send_message(msg)
        except smtplib.SMTPDataError as exc:
            return exc.smtp_code, exc.smtp_error.decode(errors="replace")
    return 250, ""


def test_logged_in_users_are_scanned_but_never_greylisted(spam_server: SpamServer) -> None:
    s = spam_server

    def submit(msg: EmailMessage) -> tuple[int, str]:
        return submit_as(s, ALICE, PASSWORDS[ALICE], msg)

    gtube = marker()
    code, reply = submit(message(ALICE, BOB, gtube, body=f"{gtube}\n{GTUBE}\n"))
    assert 500 <= code < 600, (code, reply)
    grey = marker()
    assert submit(message(ALICE, BOB, grey, score=s.score(5))) == (250, "")  # a greylist score: not deferred
    assert where(s, BOB, grey)[0] == ""
    time.sleep(1)
    assert not delivered_anywhere(s, gtube)


def test_a_user_over_the_hourly_limit_is_deferred_and_other_users_are_not(spam_server: SpamServer) -> None:
    """[spam] hourly_limit = 3 here: a new user's fourth message within the hour is deferred (4xx, never refused
    or lost: the sending app retries), the others were delivered; another user sends on."""
    s = spam_server
    carol, password = "carol@example.test", "Carol-limit-7-pass"
    s.mx.run(["python3", "-m", "mailtui", "user", "add", carol, "--password-stdin"], input=password, env=ENV)
    sent = [marker() for _ in range(4)]
    answers = [submit_as(s, carol, password, message(carol, BOB, m)) for m in sent]
    assert [code for code, _ in answers[:3]] == [250, 250, 250], answers
    code, reply = answers[3]
    assert code == 451 and reply.startswith("4.7.1"), answers
    assert [where(s, BOB, m)[0] for m in sent[:3]] == ["", "", ""]
    time.sleep(1)
    assert not delivered_anywhere(s, sent[3])
    # Another user is not held back by carol's limit.
    other = marker()
    assert submit_as(s, BOB, PASSWORDS[BOB], message(BOB, ALICE, other)) == (250, "")
    assert where(s, ALICE, other)[0] == ""
    log = s.mx.run(["grep", "-c", 'ratelimit "user(.*exceeded', "/var/log/rspamd/rspamd.log"],
                   check=False).stdout.strip()
    assert log == "1", log
    # The dashboard's entry (the Spam tab and `mailtui spam stats` read rspamd's log): carol, held back once.
    stats = spam_stats_until(s, lambda st: st["limited"])
    assert [(x["user"], x["times"]) for x in stats["limited"]] == [(carol, 1)], stats["limited"]
    assert sum(stats["hourly"]["limited"]) == 1, stats["hourly"]

def test_redis_listens_on_loopback_only_and_only_with_its_password(spam_server: SpamServer) -> None:
    s = spam_server
    listening = s.mx.run(["ss", "-Hltn", "sport", "= :6379"]).stdout.split("\n")
    local = sorted({line.split()[3].rsplit(":", 1)[0] for line in listening if line.strip()})
    assert local == ["127.0.0.1", "[::1]"], listening
    assert "NOAUTH" in s.mx.run(["redis-cli", "PING"], check=False).stdout
    code, out = s.mailtui("check")
    assert code == 0 and "Redis answers rspamd" in out, out
    # Control: Redis stopped, the check names it.
    s.mx.run(["systemctl", "stop", "redis-server"])
    try:
        code, out = s.mailtui("check")
        failed = [line for line in out.splitlines() if "FAIL" in line]
        assert code == 1 and any("Redis" in line for line in failed), out
    finally:
        s.mx.run(["systemctl", "start", "redis-server"])


def test_the_machine_asks_its_own_resolver_which_answers_only_itself(spam_server: SpamServer) -> None:
    """unbound on loopback is the machine's resolver (and Postfix's chroot copy says so); it is no open resolver
    for the network; in the test profile it forwards every question to the test DNS, never to the Internet."""
    s = spam_server
    resolv = s.mx.read_file("/etc/resolv.conf")
    assert [line.split()[1] for line in resolv.splitlines() if line.startswith("nameserver")] == ["127.0.0.1"]
    assert s.mx.read_file("/var/spool/postfix/etc/resolv.conf") == resolv
    listening = s.mx.run(["ss", "-Hlun", "sport", "= :53"]).stdout.splitlines()
    assert sorted(line.split()[3] for line in listening) == ["127.0.0.1:53"], listening
    # Through unbound, the test DNS's names resolve (and are asked from the mail server's address).
    answer = query_from(s.mx, "127.0.0.1", f"{SENDER_HOST}")
    assert [data for _name, kind, data in answer.get("records", []) if kind == "A"] == [s.sender.ip], answer
    other = query_from(s.mx, "127.0.0.1", "example.com")
    assert other.get("rcode") in ("SERVFAIL", "REFUSED") and not other.get("records"), other
    assert (s.mx.ip, "example.com.", 1) in s.dns.queries()  # forwarded to the test DNS, nowhere else
    # Control: from another host, the mail server's address answers no DNS question at all.
    outside = query_from(s.sender, s.mx.ip, f"{SENDER_HOST}")
    assert "error" in outside, outside
    code, out = s.mailtui("check")
    assert code == 0 and "unbound answers on 127.0.0.1:53" in out, out


# On a sending host: a client that talks before its turn (EHLO before the server's greeting is complete),
# then goes on as if nothing happened. Prints every reply it got.
PREGREET = r"""
import json, socket, sys
host, sender, rcpt = sys.argv[1:4]
sock = socket.create_connection((host, 25), timeout=60)
sock.sendall(b"EHLO impatient.test\r\n")
stream = sock.makefile("rb")
def reply():
    lines = []
    while True:
        line = stream.readline().decode(errors="replace").rstrip("\r\n")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return int(line[:3] or 0), lines
# postscreen's greeting begins with "220-" and waits to see whether the client talks; caught talking, the client
# gets no more of the greeting: the next reply answers its early EHLO (measured on Postfix 3.7 and 3.10).
replies = [(220, [stream.readline().decode(errors="replace").rstrip("\r\n")]), reply()]
for command in (f"MAIL FROM:<{sender}>", f"RCPT TO:<{rcpt}>", "QUIT"):
    sock.sendall(command.encode() + b"\r\n")
    replies.append(reply())
print(json.dumps(replies))
"""


def test_postscreen_refuses_listed_clients_and_clients_that_talk_first(spam_server: SpamServer) -> None:
    """postscreen in front of port 25: a client Spamhaus lists (127.0.0.2) is refused and its mail never
    delivered; an unlisted one (the sender of every other test) is let through; a list answering 127.255.255.254
    (its refusal of a public resolver) refuses nobody; a client that talks before its turn is refused; a client
    the answers' own list names (127.0.0.5) is refused too."""
    s = spam_server
    # The fixture's sender was asked about (through unbound, from the mail server) and let through.
    # (Failed once in 20 runs, 2026-12-07, trixie, cause not found: the message says what was seen instead.)
    asked = s.dns.queries()
    assert (s.mx.ip, dnsbl_name(s.sender.ip) + ".", 1) in asked, (
        [q for q in asked if DNSBL in q[1]],
        s.mx.run(["grep", "-E", "postscreen|dnsblog", "/var/log/mail.log"], check=False).stdout[-3000:])
    assert s.mx.run(["grep", "-c", rf"postscreen.*PASS NEW \[{s.sender.ip}\]", "/var/log/mail.log"],
                    check=False).stdout.strip() != "0"
    listed = s.net.host(s.release, "listed", hostname="listed.test")
    zones = dict(s.zones)
    add_sending_server(zones, "listed.test", listed.ip)
    zones[DNSBL] += f"{dnsbl_name(listed.ip)}. IN A 127.0.0.2\n"
    s.dns.serve(zones)

    def send_from_listed(mark: str) -> tuple[int, str]:
        return s.send(message("lu@listed.test", ALICE, mark), "lu@listed.test", ALICE, via=listed, helo="listed.test")

    def log_lines(what: str) -> list[str]:
        return s.mx.run(["grep", "-E", rf"postscreen.*{what}.*\[{re.escape(listed.ip)}\]", "/var/log/mail.log"],
                        check=False).stdout.splitlines()

    refused = marker()
    code, reply = send_from_listed(refused)
    assert code == 550 and DNSBL in reply, (code, reply)
    assert len(log_lines("DNSBL rank 3")) == 1
    # The list now answers 127.255.255.254 for every address (as Spamhaus answers a public resolver).
    zones[DNSBL] = f"*.{DNSBL}. IN A 127.255.255.254\n"
    s.dns.serve(zones)
    result = listed.run(["python3", "-c", PREGREET, s.mx.ip, "lu@listed.test", ALICE], check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    replies = json.loads(result.stdout.strip().splitlines()[-1])
    assert replies[0][1][0].startswith("220-") and replies[1][0] == 250, replies
    assert replies[2][0] == 250 and replies[3][0] == 550, replies  # MAIL FROM taken, RCPT TO refused
    assert len(log_lines("PREGREET")) == 1
    # The same client, polite now, with the list's refusal answer for everybody: accepted and delivered.
    accepted = marker()
    code, reply = send_from_listed(accepted)
    assert code == 250, (code, reply)
    assert where(s, ALICE, accepted)[0] == ""
    assert len(log_lines("DNSBL rank")) == 1  # only the first, listed, attempt
    assert not delivered_anywhere(s, refused)
    # A list of the answers' own ([spam] dnsbl): the same refusal for a client only it names.
    own = s.net.host(s.release, "own-listed", hostname="own.test")
    add_sending_server(zones, "own.test", own.ip)
    zones[OWN_DNSBL] = f"{dnsbl_name(own.ip, OWN_DNSBL)}. IN A 127.0.0.5\n"
    s.dns.serve(zones)
    code, reply = s.send(message("ol@own.test", ALICE, marker()), "ol@own.test", ALICE, via=own, helo="own.test")
    assert code == 550 and OWN_DNSBL in reply, (code, reply)


LONG_BODY = ("Hello Alice,\n\nas promised, here is the summary of this morning's planning meeting. We agreed to "
             "move the quarterly review to the second week of next month, to ask the finance team for the updated "
             "budget figures before Friday, and to invite the new colleagues from the support desk. Please check "
             "the attached agenda and tell me whether the proposed times suit you.\n\nBest regards\n")


# On the mail server: rspamd's controller's statistics, as JSON (its /stat; the controller trusts loopback).
CONTROLLER_STAT = ("import urllib.request; "
                   "print(urllib.request.urlopen('http://127.0.0.1:11334/stat', timeout=30).read().decode())")


def learn_requests(s: SpamServer) -> int:
    """rspamd's own count of the learn requests its controller carried out ("learned" in its /stat; what `rspamc
    stat` prints as "Messages learned" — rspamc 3.4's stat itself aborted once here, in fmt, on a null string).
    (Its per-class Statfile counts are read back from Redis every so often: measured, still 0 a minute after a
    learn on Debian 12's rspamd 3.4; so the class comes from the controller's own log line per message.)"""
    stat = json.loads(s.mx.run(["python3", "-c", CONTROLLER_STAT]).stdout)
    return int(stat["learned"])


def learned_as(s: SpamServer, msg: EmailMessage) -> list[str]:
    """How rspamd's controller learned the message, by its Message-ID: its log's "learned message as spam|ham"."""
    mid = msg["Message-ID"].strip("<>")
    log = s.mx.run(["grep", "-h", f"learned message as .*: {mid}", "/var/log/rspamd/rspamd.log"], check=False).stdout
    return re.findall(r"learned message as (spam|ham)", log)


def test_moving_mail_into_junk_and_out_of_it_teaches_rspamd(spam_server: SpamServer) -> None:
    """IMAPSieve: a message moved into Junk is learned as spam, one moved out of Junk as ham, one moved from Junk
    to Trash as neither, one moved between other folders as neither. As rspamd itself counts and logs it."""
    import imaplib

    s = spam_server
    into, trash, out_of = (message("ann@sender.test", ALICE, m, body=f"{m}\n{LONG_BODY}")
                           for m in (marker(), marker(), marker()))
    for msg in (into, trash):
        code, reply = s.send(msg, "ann@sender.test", ALICE)
        assert code == 250, (code, reply)
    del out_of["From"], out_of["X-Mailtui-Test-Score"]
    out_of["From"], out_of["X-Mailtui-Test-Score"] = "cy@sender.test", f"{s.score(8):g}"
    code, reply, _ = send_past_greylisting(s, out_of, "cy@sender.test", ALICE)
    assert code == 250, (code, reply)
    subject = {id(m): m["Subject"].split()[-1] for m in (into, trash, out_of)}
    assert [where(s, ALICE, subject[id(m)])[0] for m in (into, trash, out_of)] == ["", "", "Junk"]
    before = learn_requests(s)

    with imaplib.IMAP4_SSL(s.mx.ip, 993, ssl_context=tls_context()) as imap:
        imap.login(ALICE, PASSWORDS[ALICE])

        def move(msg: EmailMessage, source: str, target: str, *, learns: int) -> None:
            imap.select(source)
            typ, data = imap.uid("SEARCH", None, "SUBJECT", subject[id(msg)])
            uids = data[0].split()
            assert typ == "OK" and len(uids) == 1, (source, data)
            typ, data = imap.uid("MOVE", uids[0].decode(), target)
            assert typ == "OK", data
            # The pipe runs within the MOVE command: the controller has carried the request out when it returns.
            assert learn_requests(s) - before == learns, (source, target)

        move(into, "INBOX", "Junk", learns=1)
        move(into, "Junk", "Trash", learns=1)  # thrown away: no opinion either way
        move(out_of, "Junk", "INBOX", learns=2)  # filed as spam, and it was not
        move(trash, "INBOX", "Trash", learns=2)  # control: a move between other folders teaches nothing
    assert (learned_as(s, into), learned_as(s, out_of), learned_as(s, trash)) == (["spam"], ["ham"], [])


def test_with_redis_or_rspamd_down_mail_keeps_flowing_and_check_names_what_is_down(spam_server: SpamServer) -> None:
    """Decided: neither a stopped Redis nor a stopped rspamd loses, bounces or defers mail. Without Redis rspamd
    still scores (a message over the add-header score still goes to Junk) but cannot greylist; without rspamd
    Postfix passes mail on unscanned (milter_default_action = accept). `mailtui check` fails naming each."""
    s = spam_server
    s.mx.run(["systemctl", "stop", "redis-server"])
    try:
        grey, junk = marker(), marker()
        sender = f"{grey}@sender.test"  # new: would be greylisted with Redis up
        code, reply = s.send(message(sender, ALICE, grey, score=s.score(5)), sender, ALICE)
        assert code == 250, (code, reply)
        assert where(s, ALICE, grey)[0] == ""
        code, reply = s.send(message(sender, ALICE, junk, score=s.score(8)), sender, ALICE)
        assert code == 250, (code, reply)
        assert where(s, ALICE, junk)[0] == "Junk"
    finally:
        s.mx.run(["systemctl", "start", "redis-server"])
    s.mx.run(["systemctl", "stop", "rspamd"])
    try:
        unscanned = marker()
        code, reply = s.send(message("ann@sender.test", ALICE, unscanned, score=s.score(8)), "ann@sender.test", ALICE)
        assert code == 250, (code, reply)
        folder, path = where(s, ALICE, unscanned)
        assert folder == "" and "X-Spam-Status" not in headers(s, path)
        code, out = s.mailtui("check")
        failed = [line for line in out.splitlines() if "FAIL" in line]
        assert code == 1 and any("rspamd" in line for line in failed), out
    finally:
        s.mx.run(["systemctl", "start", "rspamd"])
    deadline = time.monotonic() + 60
    while s.mailtui("check")[0] != 0:
        assert time.monotonic() < deadline, s.mailtui("check")[1]
        time.sleep(1)


def test_spam_stats_and_learn_on_the_command_line_are_rspamds_own(spam_server: SpamServer) -> None:
    """`mailtui spam stats` shows what rspamd counted (a refused message among the last refusals, with its score
    and the rule that scored), `mailtui spam learn` teaches it (its own learn count rises), bad input is named
    and teaches nothing. (Not GTUBE: rspamd stops at the pattern and its history keeps no sender, subject or
    rules for it — measured on 3.4.)"""
    s = spam_server
    before = spam_stats_until(s, lambda st: True)["hourly"]
    spam_mark = marker()
    code, reply = s.send(message("ann@sender.test", ALICE, spam_mark, score=s.score(20)), "ann@sender.test", ALICE)
    assert code == 554, (code, reply)
    # The last 24 hours, from rspamd's own log: one more refused, one more scanned (nothing else was sent).
    after = spam_stats_until(s, lambda st: sum(st["hourly"]["refused"]) > sum(before["refused"]))["hourly"]
    assert sum(after["refused"]) == sum(before["refused"]) + 1, (before, after)
    assert sum(after["scanned"]) == sum(before["scanned"]) + 1, (before, after)
    assert len(after["scanned"]) == 24
    # rspamd writes a scan into its history (Redis) after it has answered: the refusal shows within moments.
    deadline = time.monotonic() + 20
    while True:
        code, out = s.mailtui("spam", "stats", "--json")
        assert code == 0, out
        stats = json.loads(out)
        refused = [h for h in stats["held"]
                   if h["action"] == "reject" and h["subject"] == f"Meeting notes {spam_mark}"]
        if refused or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert stats["scanned"] >= 2 and stats["actions"]["reject"] >= 1, stats
    assert refused, json.dumps(stats)
    assert abs(refused[0]["score"] - 20) < 0.5 and refused[0]["recipients"] == [ALICE], refused
    assert refused[0]["sender"] == "ann@sender.test" and any(r.startswith("MAILTUI_TEST_SCORE(") for r in
                                                              refused[0]["rules"]), refused
    code, out = s.mailtui("spam", "stats")
    assert code == 0 and "refused" in out and spam_mark in out, out

    s.mx.write_file("/root/learn.eml", message("ann@sender.test", ALICE, marker(), body=LONG_BODY).as_string())
    before = learn_requests(s)
    code, out = s.mailtui("spam", "learn", "junk", "/root/learn.eml")
    assert code == 2 and "kind" in out, out
    assert learn_requests(s) == before
    code, out = s.mailtui("spam", "learn", "spam", "/root/learn.eml")
    assert code == 0 and "learned /root/learn.eml as spam" in out, out
    assert learn_requests(s) == before + 1


def spam_stats_until(s: SpamServer, ready: Callable[[dict[str, Any]], object], wait: float = 20) -> dict[str, Any]:
    """`mailtui spam stats --json`, asked again until ready(stats) holds (rspamd writes its log line and history
    row after it has answered) or `wait` seconds passed."""
    deadline = time.monotonic() + wait
    while True:
        code, out = s.mailtui("spam", "stats", "--json")
        assert code == 0, out
        stats: dict[str, Any] = json.loads(out)
        if ready(stats) or time.monotonic() > deadline:
            return stats
        time.sleep(0.5)


def test_switched_off_the_machine_resolves_as_before_and_port_25_is_plain_smtpd(spam_server: SpamServer) -> None:
    """Last in this module (it switches the filter off): the original resolv.conf comes back (in Postfix's chroot
    too), unbound stops, smtpd answers port 25 again without postscreen, and mail still flows."""
    s = spam_server
    s.mx.write_file("/root/answers-off.toml", SPAM_ANSWERS.replace("[spam]\nenabled = true", "[spam]\nenabled = false"),
                    mode=0o600)
    code, out = s.mailtui("install", "--answers", "/root/answers-off.toml", "--yes")
    assert code == 0, out[-4000:]
    assert s.mx.read_file("/etc/resolv.conf") == s.resolv_conf
    assert s.mx.read_file("/var/spool/postfix/etc/resolv.conf") == s.resolv_conf
    assert s.mx.run(["pgrep", "-x", "unbound"], check=False).returncode == 1
    assert s.mx.run(["postconf", "-M", "smtp/inet"]).stdout.split()[7] == "smtpd"
    plain = marker()
    code, reply = s.send(message("ann@sender.test", ALICE, plain), "ann@sender.test", ALICE)
    assert code == 250, (code, reply)
    folder, path = where(s, ALICE, plain)
    assert folder == "" and "X-Spam-Status" not in headers(s, path)
    code, out = s.mailtui("check")
    assert code == 0, out
