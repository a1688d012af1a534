"""SRS (steps/srs.py): postsrsd's settings and Postfix's canonical maps, on and off; [srs] off when an answers
file does not name it. The real postsrsd (a forward rewritten, a bounce routed back) is the e2e test's."""

from __future__ import annotations

from dataclasses import replace

from mailtui.model import answers_file
from mailtui.model.answers import Answers, Domain, Srs
from mailtui.policy import maps
from mailtui.steps import srs
from mailtui.steps.postfix import main_cf

ANSWERS = Answers(hostname="mail.example.test", domains=[Domain("example.test"), Domain("b.test")])


def test_postsrsd_excludes_the_host_and_its_domains_and_listens_on_loopback() -> None:
    text = srs.render_defaults(ANSWERS)
    assert "SRS_DOMAIN=mail.example.test\n" in text
    assert "SRS_EXCLUDE_DOMAINS=mail.example.test,example.test,b.test\n" in text
    assert "SRS_LISTEN_ADDR=127.0.0.1\n" in text and "SRS_FORWARD_PORT=10001\n" in text


def test_postfix_asks_the_domains_served_here_before_postsrsd_and_nothing_when_off() -> None:
    on = main_cf(ANSWERS, log_to_file=False)
    own = maps.by_file("mysql-srs-own-senders.cf").ref()
    assert on["sender_canonical_maps"] == f"{own}, tcp:127.0.0.1:10001"
    assert on["recipient_canonical_maps"] == "tcp:127.0.0.1:10002"
    assert on["sender_canonical_classes"] == "envelope_sender"
    off = main_cf(replace(ANSWERS, srs=Srs(enabled=False)), log_to_file=False)
    assert off["sender_canonical_maps"] == off["recipient_canonical_maps"] == ""
    # The own-senders map gives a sender of a served domain back unchanged (%d: its domain).
    assert maps.by_file("mysql-srs-own-senders.cf").query == "SELECT '%s' FROM virtual_domains WHERE name='%d'"


def test_a_file_without_the_section_leaves_srs_and_dkim_off() -> None:
    old = answers_file.loads('version = 2\nhostname = "mail.example.test"\n')
    assert not old.srs.enabled and not old.dkim.enabled
    named = answers_file.loads('hostname = "mail.example.test"\n[srs]\nenabled = true\n[dkim]\nenabled = true\n')
    assert named.srs.enabled and named.dkim.enabled
    assert Answers().srs.enabled and Answers().dkim.enabled  # what the wizard offers a new install
    again = answers_file.loads(answers_file.dumps(named))
    assert again.srs.enabled and again.dkim.enabled
