"""The spam filter's declaration ([spam]): rspamd's thresholds and files, Redis's password kept across installs,
the line added to Debian's redis.conf, Dovecot's Sieve settings in both dialects, and the answers' checks.
Nothing on this machine is touched (the real filter is tests/e2e/test_spam.py's)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mailtui.errors import ValidationError
from mailtui.model import answers_file
from mailtui.model.answers import Answers, Database, Domain, Spam, Webmail
from mailtui.model.problems import spam_problems
from mailtui.policy import spam as policy
from mailtui.steps import spam as step
from mailtui.steps.base import Context
from mailtui.steps.dovecot import DovecotSettings, render
from mailtui.steps.resources import AbsentFileResource, FileResource
from mailtui.system.platform import Platform

ANSWERS = Answers(hostname="mail.example.test", profile="test", domains=[Domain("example.test")],
                  database=Database(password="db-Secret-1"))


def context(answers: Answers = ANSWERS) -> Context:
    return Context(answers=answers, platform=Platform("debian", "12", "bookworm", "Debian 12", systemd=True))


def by_target(resources: list) -> dict[str, object]:  # type: ignore[type-arg]
    return {r.target: r for r in resources}


def test_the_thresholds_are_the_answers_and_greylisting_can_be_switched_off() -> None:
    actions = step.render_actions(ANSWERS)
    assert "reject = 15;" in actions and "add_header = 6;" in actions and "greylist = 4;" in actions
    custom = step.render_actions(replace(ANSWERS, spam=Spam(greylist=3.5, add_header=7, reject=20, greylisting=False)))
    assert "reject = 20;" in custom and "add_header = 7;" in custom and "greylist = null;" in custom
    off = step.render_actions(replace(ANSWERS, spam=Spam(enabled=False)))
    assert all(f"{a} = null;" in off for a in ("reject", "add_header", "greylist", "rewrite_subject"))
    assert "timeout = 3s;" in step.render_greylist(ANSWERS)
    assert "timeout = 5min;" in step.render_greylist(replace(ANSWERS, profile="production"))
    assert "enabled = false;" in step.render_greylist(replace(ANSWERS, spam=Spam(greylisting=False)))


def test_rspamd_gets_the_redis_password_privately_and_the_test_rule_only_in_the_test_profile() -> None:
    found = by_target(step.rspamd_resources(ANSWERS, "pw123"))
    redis = found[str(step.REDIS_RSPAMD)]
    assert isinstance(redis, FileResource) and redis.secret and (redis.owner, redis.group, redis.mode) == (
        "root", "_rspamd", 0o640)
    assert 'password = "pw123";' in redis.content and 'servers = "127.0.0.1:6379";' in redis.content
    assert isinstance(found[str(step.TEST_RULE)], FileResource)
    production = by_target(step.rspamd_resources(replace(ANSWERS, profile="production"), "pw123"))
    assert isinstance(production[str(step.TEST_RULE)], AbsentFileResource)
    off = by_target(step.rspamd_resources(replace(ANSWERS, spam=Spam(enabled=False)), ""))
    assert all(isinstance(off[str(p)], AbsentFileResource) for p in (step.REDIS_RSPAMD, step.GREYLIST_CONF,
                                                                      step.TEST_RULE))


def test_the_redis_password_is_made_once_and_then_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(step, "saved_password", lambda: None)
    ctx = context()
    first = step.redis_password(ctx)
    assert len(first) == 32 and step.redis_password(ctx) == first  # one run: one password for every step
    monkeypatch.setattr(step, "saved_password", lambda: "kept-from-before")
    assert step.redis_password(context()) == "kept-from-before"
    assert "requirepass kept-from-before" in step.render_redis("kept-from-before")


def test_the_saved_password_is_read_from_the_include_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    include = tmp_path / "mailtui.conf"
    monkeypatch.setattr(step, "REDIS_INCLUDE", include)
    assert step.saved_password() is None
    include.write_text(step.render_redis("Abc123"))
    assert step.saved_password() == "Abc123"


def test_the_include_line_is_appended_once_and_debians_file_is_kept(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "redis.conf"
    conf.write_text("bind 127.0.0.1 -::1\nport 6379")  # no newline at the end
    writes: list[tuple[str, str]] = []
    monkeypatch.setattr(step.files, "write_file", lambda path, text, **kw: (writes.append((str(path), text)),
                                                                            path.write_text(text)))
    line = step.IncludeLineResource(str(conf), step.INCLUDE_LINE)
    change = line.pending(context())
    assert change is not None and "include /etc/redis/mailtui.conf" in change.summary
    line.apply(context(), context().out("spam"))
    assert conf.read_text() == "bind 127.0.0.1 -::1\nport 6379\ninclude /etc/redis/mailtui.conf\n"
    assert line.pending(context()) is None and len(writes) == 1


def test_the_junk_script_files_what_rspamd_marks(monkeypatch: pytest.MonkeyPatch) -> None:
    script = policy.junk_sieve()
    assert 'if header :is "X-Spam" "Yes"' in script and 'fileinto :create "Junk";' in script
    monkeypatch.setattr(step, "saved_password", lambda: "pw")
    found = by_target(list(step.SpamStep().resources(context())))
    program = policy.LEARN_PROGRAM_PATH
    for path in (*policy.sieve_scripts(), program):
        assert isinstance(found[path], FileResource), path
    learn = found[program]
    assert isinstance(learn, FileResource) and learn.mode == 0o755 and 'rspamc -h 127.0.0.1:11334 "learn_$1"' in (
        learn.content)
    assert 'pipe :copy "mailtui-learn" ["spam"];' in policy.learn_spam_sieve()
    assert 'if string "${mailbox}" "Trash"' in policy.learn_ham_sieve()  # thrown away: not ham
    off = by_target(list(step.SpamStep().resources(context(replace(ANSWERS, spam=Spam(enabled=False))))))
    for path in (*policy.sieve_scripts(), *map(step.compiled, policy.sieve_scripts()), program):
        assert isinstance(off[path], AbsentFileResource), path
    assert step.SpamStep().services_for(context()) == ("redis-server",)
    assert step.SpamStep().unused_services(context(replace(ANSWERS, spam=Spam(enabled=False)))) == ("redis-server",)


@pytest.mark.parametrize("dialect", ["2.3", "2.4"])
def test_dovecot_runs_the_junk_script_before_every_delivery_only_with_the_filter_on(dialect: str) -> None:
    def main(answers: Answers) -> str:
        return render(DovecotSettings.from_answers(answers, dialect=dialect)).main  # type: ignore[arg-type]

    # (The webmail off too: its users' scripts are Sieve of their own, tests/unit/test_dovecot_render.py.)
    on, off = main(ANSWERS), main(replace(ANSWERS, spam=Spam(enabled=False), webmail=Webmail(enabled=False)))
    if dialect == "2.3":
        assert f"sieve_before = {policy.JUNK_SIEVE}" in on and "mail_plugins = $mail_plugins sieve" in on
        assert f"imapsieve_mailbox1_before = file:{policy.LEARN_SPAM_SIEVE}" in on
        assert "imapsieve_mailbox2_from = Junk" in on and "mail_plugins = $mail_plugins imap_sieve" in on
    else:
        lmtp = on.split("protocol lmtp {", 1)[1].split("\n}", 1)[0]
        assert "sieve_script mailtui_junk {" in lmtp and "sieve = yes" in lmtp  # delivery only
        assert "imapsieve_from Junk {" in on and "imap_sieve = yes" in on and "cause = copy" in on
    assert "sieve" not in off


def test_scores_in_the_wrong_order_or_range_are_refused_by_field() -> None:
    assert spam_problems(Spam()) == {}
    assert set(spam_problems(Spam(greylist=6))) == {"spam.greylist"}
    assert spam_problems(Spam(greylist=6, greylisting=False)) == {}  # not used then
    assert set(spam_problems(Spam(add_header=15))) == {"spam.add_header"}
    assert set(spam_problems(Spam(reject=0))) == {"spam.reject"}
    assert set(spam_problems(Spam(reject=float("inf")))) == {"spam.reject"}
    with pytest.raises(ValidationError) as exc:
        answers_file.loads('hostname = "mail.example.test"\n[spam]\nreject = "lots"\n')
    assert exc.value.problems == {"spam.reject": "must be a number"}


@pytest.mark.parametrize(("entry", "words"), [
    ("x", "needs at least one dot"),
    ("zen.spamhaus.org*3", "names no answers"),  # any answer would count, the refusal one too
    ("a.example.org=127.[0..255].255.[250..255]*3", "includes 127.255.255.252"),
    ("a.example.org=127.255.255.254", "includes 127.255.255.254"),
    ("a.example.org=127.0.0.[2..300]*3", "is not an answer pattern"),
    ("a.example.org=127.0.0*3", "is not an answer pattern"),
    ("a.example.org=127.0.0.2*500", "weight 500 is not from -100 to 100"),
    ("a.example.org=127.0.0.2 *3", 'is not "list.example.org=127.0.0.2*3"'),
])
def test_a_bad_block_list_entry_is_named(entry: str, words: str) -> None:
    text = f'hostname = "mail.example.test"\n[spam]\ndnsbl = ["bl.example.org=127.0.0.2*3", {entry!r}]\n'
    found = spam_problems(answers_file.loads(text.replace("'", '"')).spam)  # problems.check() refuses the answers
    assert list(found) == ["spam.dnsbl[1]"] and words in found["spam.dnsbl[1]"]


def test_block_lists_are_the_answers_own_and_a_list_twice_is_named() -> None:
    dqs = "abcdef.zen.dq.spamhaus.net=127.0.0.[2..11]*3"  # Spamhaus's key-based service, e.g.
    mine = answers_file.loads(f'hostname = "mail.example.test"\n[spam]\ndnsbl = ["{dqs}"]\n')
    assert mine.spam.dnsbl == (dqs,) and answers_file.loads(answers_file.dumps(mine)).spam == mine.spam
    assert answers_file.loads('hostname = "mail.example.test"\n[spam]\ndnsbl = []\n').spam.dnsbl == ()
    assert spam_problems(Spam(dnsbl=("bl.example.org=127.0.0.2", "BL.example.org=127.0.0.3*2"))) == {
        "spam.dnsbl[1]": "bl.example.org is listed twice"}
    with pytest.raises(ValidationError) as exc:
        answers_file.loads('hostname = "mail.example.test"\n[spam]\ndnsbl = "zen.spamhaus.org"\n')
    assert exc.value.problems == {"spam.dnsbl": 'must be a list of strings, e.g. ["first", "second"]'}


def test_an_older_answers_file_keeps_the_filter_off_and_a_new_one_names_it() -> None:
    old = answers_file.loads('version = 3\nhostname = "mail.example.test"\n')
    assert old.spam.enabled is False
    new = answers_file.loads('hostname = "mail.example.test"\n[spam]\nreject = 20\n')
    assert new.spam == Spam(reject=20.0)
    assert answers_file.loads(answers_file.dumps(new)).spam == new.spam


def test_a_compiled_sieve_binary_that_must_go_is_named_not_decoded(tmp_path: Path) -> None:
    """Switching the filter off removes the .svbin files sievec wrote: the preview must not choke on them."""
    binary = tmp_path / "mailtui-junk.svbin"
    binary.write_bytes(b"\xbe\xef\x00\x01CMP")
    change = AbsentFileResource(str(binary), "off").pending(None)  # type: ignore[arg-type]
    assert change is not None and change.diff == "(binary file)" and "remove" in change.summary


def test_the_hourly_limit_is_a_user_bucket_that_never_grows() -> None:
    text = step.render_ratelimit(Answers(spam=Spam(hourly_limit=50)))
    assert 'bucket = { burst = 50; rate = "50 / 1h"; }' in text and "  user = {" in text
    assert "max_bucket_mult = 1;" in text and "ham_factor_burst = 1.0;" in text
    assert "user = {" not in step.render_ratelimit(Answers(spam=Spam(hourly_limit=0)))


@pytest.mark.parametrize("value", [-1, 100_001, 2.5, True, "200"])
def test_a_bad_hourly_limit_is_named(value: object) -> None:
    assert "spam.hourly_limit" in spam_problems(Spam(hourly_limit=value))  # type: ignore[arg-type]
