"""The resolver step's files and postscreen's settings from the answers (behaviour: tests/e2e/test_spam.py)."""

from __future__ import annotations

from mailtui.model.answers_file import loads
from mailtui.policy import resolver
from mailtui.steps import dkim, postfix
from mailtui.steps import resolver as step

SPAM_ON = 'version = 4\nprofile = "test"\n[outbound]\nrelayhost = "[127.0.0.1]:2525"\n[spam]\nenabled = true\n'


def test_production_recurses_itself_on_loopback_and_validates() -> None:
    text = step.render_unbound(loads("[spam]\nenabled = true"), ["198.18.0.2"])
    assert "interface: 127.0.0.1" in text and "forward-zone" not in text and "module-config" not in text


def test_the_test_profile_forwards_everything_to_the_test_dns_and_caches_nothing() -> None:
    text = step.render_unbound(loads(SPAM_ON), ["198.18.7.2"])
    assert 'name: "."' in text and "forward-addr: 198.18.7.2" in text
    assert "cache-max-ttl: 0" in text and 'local-zone: "test." nodefault' in text
    assert 'module-config: "iterator"' in text


def test_the_test_profile_without_a_test_dns_looks_up_nothing() -> None:
    text = step.render_unbound(loads(SPAM_ON), [])
    assert 'local-zone: "." refuse' in text and "forward-zone" not in text
    assert "do-not-query-address: 0.0.0.0/0" in text and "do-not-query-address: ::/0" in text


def test_forwarders_are_the_original_nameservers_that_are_not_this_machine() -> None:
    original = "nameserver 127.0.0.1\nnameserver 198.18.7.2\nnameserver ::1\nnameserver bogus\nsearch test\n"
    assert step.upstreams(original) == ["198.18.7.2"]


def test_resolv_conf_names_unbound_alone_and_keeps_search_and_options() -> None:
    text = step.render_resolv_conf("nameserver 10.0.0.2\nsearch corp.example\noptions edns0 trust-ad\n# x\n")
    assert step.nameservers(text) == [resolver.ADDRESS]
    assert "search corp.example\n" in text and "options edns0 trust-ad\n" in text and "10.0.0.2" not in text


def test_postscreen_stands_in_front_of_port_25_only_with_the_filter() -> None:
    on = postfix.master_services(loads(SPAM_ON), log_to_file=False)
    assert [s.entry for s in on[:4]] == [
        "smtp inet n - y - 1 postscreen", "smtpd pass - - y - - smtpd",
        "dnsblog unix - - y - 0 dnsblog", "tlsproxy unix - - y - 0 tlsproxy"]
    off = postfix.master_services(loads(""), log_to_file=False)
    assert off[0].entry == "smtp inet n - y - - smtpd" and "smtpd/pass" not in [s.key for s in off]


def test_postscreen_counts_only_the_lists_real_answers() -> None:
    params = postfix.main_cf(loads(SPAM_ON), log_to_file=False)
    assert params["postscreen_greet_action"] == params["postscreen_dnsbl_action"] == "enforce"
    assert "zen.spamhaus.org=127.0.0.[2..11]*3" in params["postscreen_dnsbl_sites"]
    assert params["postscreen_dnsbl_threshold"] == "3"
    off = postfix.main_cf(loads(""), log_to_file=False)
    assert off["postscreen_dnsbl_sites"] == "" and off["postscreen_greet_action"] == "ignore"
    mine = postfix.main_cf(loads(SPAM_ON.replace("[spam]", '[spam]\ndnsbl = ["bl.example.test=127.0.0.2*3"]')),
                           log_to_file=False)
    assert mine["postscreen_dnsbl_sites"] == "bl.example.test=127.0.0.2*3"


def test_rspamd_asks_unbound_only_with_the_filter() -> None:
    assert 'nameserver = ["127.0.0.1:53"]' in dkim.render_options(True, own_resolver=True)
    assert "nameserver" not in dkim.render_options(True, own_resolver=False)
