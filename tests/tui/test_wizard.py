"""Pilot tests: every screen of the wizard, asserting on what the screen says. The engine is a
scripted fake (tests/tui/fakes.py) handed to MailtuiApp(ops=…): nothing touches the machine."""

from __future__ import annotations

import threading

from mailtui.screens.widgets.dialogs import ConfirmQuit, DashboardScreen, HelpScreen, ResumeScreen, SaveAnswersScreen
from mailtui.screens.widgets.fields import StepList
from mailtui.screens.wizard.welcome import NotRootScreen

from mailtui.model.answers import Alias, Answers, Domain, User
from tests.tui.conftest import (
    PASSWORD,
    error_of,
    field,
    make_app,
    screen_plain,
    screen_text,
    stage,
    text_of,
    type_into,
    wait_for,
    walk_to,
)
from tests.tui.fakes import STEP_NAMES, DashboardEngine, FakeEngine, Preflight, Run, State, failing_run, ok_run


def sidebar(app) -> str:  # noqa: ANN001
    return text_of(app.screen.query_one(StepList))


# ---------------------------------------------------------------- shell


async def test_welcome_shows_what_preflight_found() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        said = screen_text(app)
        plain = screen_plain(app)
        assert "Debian GNU/Linux 12 (bookworm)" in plain
        assert "25 free" in plain and "993 in use by sshd-test" in plain
        assert "none of Postfix, Dovecot, MariaDB yet" in plain
        assert "▶ Welcome" in sidebar(app) and "· Packages" in sidebar(app)
        assert "Adopt" not in said  # nothing earlier to adopt
        await pilot.press("pagedown")
        await pilot.pause()
        assert stage(app) == "packages"
        assert "✓ Welcome" in sidebar(app) and "▶ Packages" in sidebar(app)


async def test_not_root_gets_a_clear_screen() -> None:
    app = make_app(FakeEngine(root=False))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, NotRootScreen)
        said = screen_text(app)
        assert "mailtui must run as root" in said and "Nothing was changed" in said
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 1


async def test_preflight_saying_not_root_also_shows_the_screen() -> None:
    app = make_app(FakeEngine(preflight=Preflight(is_root=False)))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, NotRootScreen))
        await pilot.pause()
        assert "mailtui must run as root" in screen_text(app)


async def test_preflight_failure_is_said_and_defaults_still_work() -> None:
    app = make_app(FakeEngine(preflight_error="os-release is unreadable"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "Could not inspect this machine: os-release is unreadable" in screen_text(app)
        await walk_to(pilot, "postfix")
        assert field(app, "hostname").value  # a default is filled


async def test_blocking_problems_stop_at_welcome() -> None:
    app = make_app(FakeEngine(preflight=Preflight(supported=False, problems=["Ubuntu 20.04 is not supported"])))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "✗ Ubuntu 20.04 is not supported" in screen_text(app)
        await pilot.press("pagedown")
        await pilot.pause()
        assert stage(app) == "welcome"


async def test_adopting_an_earlier_install_fills_the_forms_from_it() -> None:
    earlier = Answers(hostname="mx.old.example", domains=[Domain("old.example")], users=[User("boss@old.example")],
                      aliases=[Alias("postmaster@old.example", "boss@old.example")])
    pf = Preflight(earlier_install=True, install_state="done", suggested=earlier)
    app = make_app(FakeEngine(preflight=pf))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "An earlier mailtui install was found" in screen_text(app)
        assert "Adopt it" in screen_text(app)
        await walk_to(pilot, "postfix")
        assert field(app, "hostname").value == "mx.old.example"
        await walk_to(pilot, "users")
        assert field(app, "users[0].email").value == "boss@old.example"
        # Start fresh instead: back to Welcome, untick Adopt.
        for _ in range(4):
            await pilot.press("pageup")
        await pilot.pause()
        assert stage(app) == "welcome"
        app.screen.query_one("#cb-adopt").value = False
        await pilot.press("pagedown")
        await pilot.pause()
        assert field(app, "users[0].email").value == "admin@old.example"


async def test_help_screen_lists_keys_and_command_palette_has_main_actions() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        said = screen_text(app)
        assert "Ctrl+Q" in said and "PgDn / PgUp" in said and "command palette" in said
        await pilot.press("escape")
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in ("Next step", "Previous step", "Review the plan", "Save answers…", "Help", "Quit"):
            assert any(t.startswith(wanted) for t in titles), wanted
        # Nothing is installed yet: no dashboard action is offered (each would open an empty dashboard).
        for refused in ("Dashboard", "Add mailbox", "Add alias", "Bans", "DNS records", "Mail queue"):
            assert not any(t.startswith(refused) for t in titles), refused


async def test_quit_without_install_running_needs_no_confirm() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0


# ---------------------------------------------------------------- forms


async def test_packages_defaults() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "packages")
        assert app.screen.query_one("#cb-submissions").value is True
        said = screen_text(app)
        assert "Installs Postfix, Dovecot and MariaDB." in said  # the step's why
        assert "Postfix: not installed" in said


async def test_database_defaults_and_generated_password_is_masked() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "database")
        assert field(app, "database.host").value == "127.0.0.1"
        assert field(app, "database.port").value == "3306"
        assert field(app, "database.name").value == "mailserver"
        assert field(app, "database.password").value.startswith("Generated-Secret-")
        shown = screen_plain(app)
        assert "Generated-Secret" not in shown and "••••" in shown
        await pilot.click("#cb-db-show")
        await pilot.pause()
        assert "Generated-Secret" in screen_plain(app)


async def test_inline_errors_appear_as_you_type_and_block_next() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "database")
        await type_into(pilot, "database.port", "99999")
        assert "Port must be a port number between 1 and 65535" in error_of(app, "database.port")
        await type_into(pilot, "database.name", "mail-server")
        assert "Database may use only letters, digits and _" in error_of(app, "database.name")
        await pilot.press("pagedown")
        await pilot.pause()
        assert stage(app) == "database"
        assert "Port must be a port number" in screen_text(app)
        await type_into(pilot, "database.port", "3307")
        assert error_of(app, "database.port") == ""
        await type_into(pilot, "database.name", "mail_server")
        await pilot.press("pagedown")
        await pilot.pause()
        assert stage(app) == "postfix"


async def test_postfix_hostname_and_relay_checks() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "postfix")
        assert field(app, "hostname").value == "mail.example.org"
        assert field(app, "domains[0].name").value == "example.org"
        assert field(app, "limits.message_size_mb").value == "50"
        await type_into(pilot, "hostname", "localhost")
        assert "needs at least one dot" in error_of(app, "hostname")
        await type_into(pilot, "hostname", "mail.example.org")
        await type_into(pilot, "outbound.user", "relayuser")
        await pilot.press("pagedown")
        await pilot.pause()
        assert stage(app) == "postfix"
        assert "give both a relay user and a relay password" in error_of(app, "outbound.user")
        assert "Relay host is needed" in error_of(app, "outbound.relayhost")


async def test_back_and_next_keep_what_was_typed() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "database")
        await type_into(pilot, "database.user", "lookup")
        await walk_to(pilot, "postfix")
        await type_into(pilot, "hostname", "mx.example.org")
        await pilot.press("pageup")
        await pilot.pause()
        assert stage(app) == "database"
        assert field(app, "database.user").value == "lookup"
        await pilot.press("pageup", "pagedown", "pagedown")
        await pilot.pause()
        assert stage(app) == "postfix"
        assert field(app, "hostname").value == "mx.example.org"


async def test_users_defaults_follow_the_domain_and_passwords_must_match() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "postfix")
        await type_into(pilot, "domains[0].name", "example.net")
        await walk_to(pilot, "users")
        assert field(app, "users[0].email").value == "admin@example.net"
        assert field(app, "aliases[0].source").value == "postmaster@example.net"
        assert field(app, "aliases[0].destination").value == "admin@example.net"
        await type_into(pilot, "users[0].password", PASSWORD)
        await type_into(pilot, "users[0].password2", PASSWORD + "x")
        await pilot.press("pagedown")
        await pilot.pause()
        assert stage(app) == "users"
        assert "does not match the password" in error_of(app, "users[0].password2")
        assert PASSWORD not in screen_plain(app)  # masked


async def test_generate_password_fills_both_and_shows_it_once() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "users")
        await pilot.click("#btn-generate")
        await pilot.pause()
        generated = field(app, "users[0].password").value
        assert generated == field(app, "users[0].password2").value
        plain = screen_plain(app)  # whole at 80 columns, the warning too
        assert f"Generated password: {generated}" in plain and "Note it now: it is not shown again." in plain
        await type_into(pilot, "users[0].password", PASSWORD)  # one of the operator's own instead
        assert generated not in screen_plain(app) and "Note it now" not in screen_plain(app)
        await pilot.click("#btn-generate")
        await pilot.press("pagedown")
        await pilot.pause()
        assert stage(app) == "dovecot"


async def test_dovecot_explains_and_tls_files_need_absolute_paths() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "dovecot")
        said = screen_text(app)
        assert "/var/mail/vhosts/<domain>/<user>" in said and "IMAPS 993 (no POP3)" in said
        await walk_to(pilot, "tls")
        assert field(app, "tls.cert").input.disabled
        app.screen.query_one("#tls-files").value = True
        await pilot.pause()
        assert not field(app, "tls.cert").input.disabled
        await type_into(pilot, "tls.cert", "cert.pem")
        assert "Certificate must be an absolute path" in error_of(app, "tls.cert")
        await pilot.press("pagedown")
        await pilot.pause()
        assert stage(app) == "tls"
        assert "Private key is empty" in error_of(app, "tls.key")


async def test_firewall_shows_the_detected_ssh_port_and_rules() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "dovecot")
        assert app.screen.query_one("#cb-pop3").value is False
        await pilot.press("space")  # the checkbox has the focus: POP3 on
        assert "Serves: IMAPS 993 and POP3S 995" in screen_text(app)
        await walk_to(pilot, "firewall")
        assert field(app, "firewall.ssh_port").value == "2222"
        said = screen_text(app)
        assert "detected: 2222" in said
        assert "allow 2222/tcp  SSH" in said and "allow 995/tcp   POP3S" in said
        rules = [line for line in said.splitlines() if "allow " in line]
        assert len({line.index("/tcp") + len(line.split("/tcp")[1]) - len(line.split("/tcp")[1].lstrip())
                    for line in rules}) == 1  # the labels start in one column
        assert "Review" in text_of(app.screen.query_one("#nav-next"))


async def test_problems_across_forms_are_mapped_back_to_their_field() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "users")
        await type_into(pilot, "aliases[2].source", "info@example.org")
        await type_into(pilot, "aliases[2].destination", "nobody@example.org")
        await walk_to(pilot, "firewall")
        await pilot.press("pagedown")
        await pilot.pause()
        assert stage(app) == "users"  # answers.problems() found it; the wizard went back there
        assert "neither a mailbox nor an alias" in error_of(app, "aliases[2].destination")


# ---------------------------------------------------------------- review


async def test_review_lists_each_step_its_changes_and_diffs() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "review")
        await wait_for(pilot, lambda: "5 changes in 6 steps" in screen_text(app))
        answers = engine.plans[0]
        assert answers.hostname == "mail.example.org" and answers.users[0].password == PASSWORD
        assert [a.source for a in answers.aliases] == ["postmaster@example.org", "abuse@example.org"]
        plain = screen_plain(app)
        assert "Postfix — 1 change" in plain and "SSL/TLS and DH parameters — nothing to change" in plain
        assert "▸ postconf: set myhostname = mail.example.org" in plain
        await pilot.press("down", "down", "enter")  # database's change, then Postfix's (the one with a diff)
        await pilot.pause()
        plain = screen_plain(app)
        assert "+myhostname = mail.example.org" in plain and "diff 1 of 1" in plain


async def test_save_answers_asks_for_a_path() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "review")
        await pilot.click("#review-save")
        await pilot.pause()
        assert isinstance(app.screen, SaveAnswersScreen)
        assert app.screen.query_one("#save-path").value == "/root/mailtui-answers.toml"
        app.screen.query_one("#save-path").value = "/tmp/answers.toml"
        await pilot.press("enter")
        await pilot.pause()
        assert engine.saved and str(engine.saved[0][1]) == "/tmp/answers.toml"
        assert engine.saved[0][0].hostname == "mail.example.org"


# ---------------------------------------------------------------- apply and verify


async def confirm(pilot) -> None:  # noqa: ANN001
    await walk_to(pilot, "review")
    await wait_for(pilot, lambda: not pilot.app.screen.query_one("#review-confirm").disabled)
    await pilot.click("#review-confirm")
    await pilot.pause()


async def test_apply_shows_progress_then_verify_shows_checks_dns_and_clients() -> None:
    engine = DashboardEngine(installed=False, runs=[ok_run()])  # a fresh machine; installed once the install ran
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await confirm(pilot)
        await wait_for(pilot, lambda: "Install finished" in screen_text(app))
        assert engine.started[0][1] is None
        said = screen_text(app)
        for title in ("Packages", "Postfix", "Firewall"):
            assert title in said
        assert said.count("done") >= 7
        log = "\n".join(app.screen.query_one("#apply-log").lines)
        assert "==> Postfix" in log and "postfix: working" in log
        assert "✓ Postfix" in sidebar(app)
        await pilot.click("#apply-continue")
        await wait_for(pilot, lambda: "DNS records to publish" in screen_text(app))
        said = screen_text(app)
        assert "✓ sent a message to admin@example.org on 587" in said
        assert "✗ port 993 (IMAPS) listening — nothing listens there" in said
        assert "1 check failed" in said
        assert "example.org MX 10 mail.example.org" in said
        assert "Incoming mail (IMAP) server: mail.example.org" in said
        assert "IMAP port and security: 993, SSL/TLS" in said
        assert engine.roundtrip_args == ("admin@example.org", PASSWORD)
        engine.installed = True  # what the finished install saved
        await pilot.click("#verify-dashboard")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)


async def test_failure_shows_reason_and_tail_then_retry_runs_from_the_failed_step() -> None:
    engine = FakeEngine(runs=[failing_run(STEP_NAMES, "postfix", "postfix-mysql is not available"),
                              ok_run(STEP_NAMES[3:])])
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await confirm(pilot)
        await wait_for(pilot, lambda: "Failed in postfix" in screen_text(app))
        said = screen_text(app)
        assert "postfix-mysql is not available" in said
        assert "E: Unable to locate package postfix-mysql" in said  # the tail of the output
        assert "✗ Postfix" in sidebar(app) and "✗ Install" in sidebar(app)
        assert app.screen.query_one("#apply-retry").display
        assert not app.screen.query_one("#apply-skip").display  # postfix is not skippable
        await pilot.click("#apply-retry")
        await wait_for(pilot, lambda: "Install finished" in screen_text(app))
        assert engine.started[1][1] == ["postfix", "dovecot", "webmail", "updates", "firewall", "fail2ban", "verify"]
        assert "✓ Postfix" in sidebar(app)


async def test_skip_is_offered_only_for_skippable_steps() -> None:
    engine = FakeEngine(runs=[failing_run(STEP_NAMES, "firewall", "ufw is missing"), ok_run(["fail2ban", "verify"])])
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await confirm(pilot)
        await wait_for(pilot, lambda: "Failed in firewall" in screen_text(app))
        assert app.screen.query_one("#apply-skip").display
        await pilot.click("#apply-skip")
        await wait_for(pilot, lambda: "Install finished" in screen_text(app))
        assert engine.started[1][1] == ["fail2ban", "verify"]


async def test_quit_button_after_failure() -> None:
    engine = FakeEngine(runs=[failing_run(STEP_NAMES, "database", "MariaDB did not start")])
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await confirm(pilot)
        await wait_for(pilot, lambda: "Failed in database" in screen_text(app))
        await pilot.click("#apply-quit")
        await pilot.pause()
    assert app.return_code == 1


async def test_restart_reattaches_to_a_running_install_and_quit_asks_first() -> None:
    hold = threading.Event()
    run = ok_run()
    run.events = run.events[:9]  # packages and database done, tls started
    run.hold = hold
    pending = Answers(hostname="mail.example.org", domains=[Domain("example.org")],
                      users=[User("admin@example.org", password_hash="$6$x$y")])
    engine = FakeEngine(state=State("running", 4242, 1_800_000_000.0, alive=True,
                                    steps={"packages": "done", "database": "done", "tls": "running"}),
                        pending=pending)
    engine.current = run
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert stage(app) == "apply"
        await wait_for(pilot, lambda: "Re-attached" in screen_text(app) or "Running" in screen_text(app))
        await wait_for(pilot, lambda: "✓ Database" in sidebar(app))
        assert engine.started == []  # attached, not started again
        assert field(app, "hostname").value == "mail.example.org"
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmQuit)
        assert "the install goes on by itself" in screen_text(app)
        await pilot.press("enter")  # "Stay" has the focus
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmQuit)
        hold.set()
        await wait_for(pilot, lambda: "Install finished" in screen_text(app))


HASH = "$6$DhwjjBuBHsc6DvV/$pBrB7vbYffM5CCP79jjty22gFRxRhUPJgmMtNIKZ6Z.Id5W.IP18SjapRu1wi65HZPiNsZAVMOQwYp1J8wi/y."


async def test_reattaching_to_the_packages_only_run_goes_on_to_the_second_review() -> None:
    """Over SSH the terminal dropped while the packages were installing (before the review of the real
    diffs): the restarted mailtui follows that run, then offers the second review, and Confirm runs the
    rest — never "Install finished" after the packages alone, nor a Users form refusing the empty password
    of a mailbox that does not exist yet (both seen on a real SSH drop)."""
    pending = Answers(hostname="mail.example.org", domains=[Domain("example.org")],
                      users=[User("admin@example.org", password_hash=HASH)])
    packages = ok_run(["packages"])
    packages.final.steps_requested = ["packages"]
    engine = FakeEngine(state=State("running", 4242, 1_800_000_000.0, alive=True, steps={"packages": "running"},
                                    steps_requested=["packages"]),
                        pending=pending, runs=[ok_run(STEP_NAMES[1:])])
    engine.current = packages
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "Packages installed" in screen_text(app))
        assert "Install finished" not in screen_text(app)
        assert "after the review" in screen_text(app)  # the other steps have not run
        assert engine.started == []
        await pilot.press("enter")  # Continue has the focus
        await wait_for(pilot, lambda: stage(app) == "review")
        await wait_for(pilot, lambda: not app.screen.query_one("#review-confirm").disabled)
        await pilot.click("#review-confirm")
        await wait_for(pilot, lambda: "Install finished" in screen_text(app))
        (answers, rest), = engine.started  # one start: the rest of the plan, without the packages
        assert rest and "packages" not in rest and "postfix" in rest, rest
        # The mailbox does not exist yet: it gets the password typed before the drop (its hash), not "keep".
        assert (answers.users[0].password_hash, answers.users[0].keep_password) == (HASH, False)


async def test_restart_after_an_interrupted_install_offers_to_resume() -> None:
    pending = Answers(hostname="mail.example.org", domains=[Domain("example.org")],
                      users=[User("admin@example.org", password_hash="$6$x$y")])
    # The worker records every step these answers enable (self-signed: no acme), each as far as it got.
    recorded = {n: "todo" for n in STEP_NAMES}
    state = State("running", 999999, 1_800_000_000.0, alive=False,
                  steps={**recorded, "packages": "done", "database": "done", "tls": "running"})
    engine = FakeEngine(state=state, pending=pending, runs=[ok_run(STEP_NAMES[2:])])
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ResumeScreen)
        assert "interrupted before it finished" in screen_text(app)
        await pilot.press("enter")  # Resume has the focus
        await wait_for(pilot, lambda: "Install finished" in screen_text(app))
        assert engine.started[0][1] == ["tls", "resolver", "spam", "dkim", "srs", "postfix", "dovecot", "webmail",
                                        "updates", "firewall", "fail2ban", "verify"]
        await pilot.click("#apply-continue")
        await wait_for(pilot, lambda: "Round trip skipped" in screen_text(app))


async def test_resume_screen_after_a_failed_install_can_start_over() -> None:
    pending = Answers(hostname="mx.example.org", domains=[Domain("example.org")], users=[User("a@example.org")])
    state = State("failed", 1, steps={"packages": "failed"}, error="dpkg was interrupted", failed_step="packages")
    app = make_app(FakeEngine(state=state, pending=pending))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "failed in packages" in screen_text(app) and "dpkg was interrupted" in screen_text(app)
        await pilot.click("#resume-fresh")
        await pilot.pause()
        assert stage(app) == "welcome"
        await walk_to(pilot, "postfix")
        assert field(app, "hostname").value == "mx.example.org"  # filled from the recorded answers


async def test_pause_after_packages_shows_review_again_with_real_diffs() -> None:
    engine = FakeEngine(pending_packages=["postfix", "dovecot-core"], runs=[ok_run(["packages"]),
                                                                             ok_run(STEP_NAMES[1:])])
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "review")
        await wait_for(pilot, lambda: "Not installed yet: postfix, dovecot-core" in screen_text(app))
        await confirm(pilot)
        await wait_for(pilot, lambda: "Packages installed" in screen_text(app))
        assert engine.started[0][1] == ["packages"]
        plain = screen_plain(app)
        assert "Database                  after the review" in plain  # not "skipped", not "not in this run"
        assert "not in this run" not in plain
        await pilot.click("#apply-continue")
        await wait_for(pilot, lambda: "real diffs against their stock files" in screen_text(app)
                       and not app.screen.query_one("#review-confirm").disabled)
        assert stage(app) == "review"
        await pilot.click("#review-confirm")
        await wait_for(pilot, lambda: "Install finished" in screen_text(app))
        assert engine.started[1][1] == ["database", "tls", "postfix", "dovecot", "firewall"]
        # Both runs' time: the packages run counts too.
        assert "Install finished in 0:42 (packages 0:03, the rest 0:39)" in screen_text(app)


async def test_a_worker_that_cannot_start_is_reported() -> None:
    class Broken(FakeEngine):
        def start_worker(self, answers, steps=None):  # noqa: ANN001, ANN201
            raise RuntimeError("an install is already running")

    app = make_app(Broken())
    async with app.run_test(size=(80, 24)) as pilot:
        await confirm(pilot)
        await wait_for(pilot, lambda: "the install could not start: an install is already running"
                       in screen_text(app))


def test_run_is_a_list_of_events() -> None:
    assert isinstance(ok_run(), Run)


async def test_the_footer_shows_back_before_next_on_every_form() -> None:
    """The footer reads like the buttons (Back, then Next), wherever the focus is — the Dovecot form's
    checkbox used to flip it."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        for stage in ("packages", "database", "postfix", "users", "dovecot", "tls", "webmail", "firewall"):
            await walk_to(pilot, stage)
            footer = screen_plain(app).splitlines()[-1]
            assert footer.index("pgup Back") < footer.index("pgdn Next"), (stage, footer)


async def test_a_long_review_summary_keeps_the_buttons_on_an_80x24_screen() -> None:
    """A bare machine: every package still to install makes the summary long; it scrolls, and Confirm stays on
    the screen (the real wizard's driver clicks it: it failed with OutOfBounds once the list grew)."""
    engine = FakeEngine(pending_packages=[f"package-number-{i}" for i in range(40)],
                        runs=[ok_run(["packages"]), ok_run(STEP_NAMES[1:])])
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "review")
        await wait_for(pilot, lambda: "Not installed yet" in screen_text(app)
                       and not app.screen.query_one("#review-confirm").disabled)
        button = app.screen.query_one("#review-confirm")
        assert button.region.height > 0 and button.region.bottom <= 24, button.region
        await pilot.click("#review-confirm")
        await wait_for(pilot, lambda: "Packages installed" in screen_text(app))
