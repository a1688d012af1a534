"""The SSL/TLS form's third choice, a certificate from an ACME CA (Let's Encrypt unless another directory is
given), and the DNS pre-check the review shows. Driven by the keyboard alone at 80x24, as an admin over SSH
does; the fake DNS (tests/tui/fakes.py dns_zone / silent_dns) answers the engine's real check."""

from __future__ import annotations

from mailtui.screens.wizard.review import ReviewPane

from mailtui.model.answers import Alias, Answers, Domain, Tls, User
from tests.tui.conftest import error_of, field, make_app, screen_plain, stage, text_of, wait_for
from tests.tui.fakes import ALL_STEP_NAMES, FAKE_IPV4, FakeEngine, Preflight, dns_zone, ok_run, silent_dns
from tests.tui.test_wizard_keyboard import (
    HEIGHT,
    WIDTH,
    focus_by_tab,
    keyboard_to_review,
    press_keys,
    type_passwords,
    type_text,
)

HOST = "mail.example.org"
EMAIL = "certs@example.org"
ELSEWHERE = "203.0.113.9"


def acme_line(app) -> str:  # noqa: ANN001
    return text_of(app.screen.query_one("#review-acme"))


async def keyboard_to_tls(pilot) -> None:  # noqa: ANN001
    """PgDn from Welcome to the SSL/TLS form, typing the first user's password on Users."""
    await pilot.pause()
    for _ in range(10):
        if stage(pilot.app) == "tls":
            return
        if stage(pilot.app) == "users":
            await type_passwords(pilot)
        await press_keys(pilot, "pagedown")
    assert stage(pilot.app) == "tls", screen_plain(pilot.app)


async def choose_acme(pilot) -> None:  # noqa: ANN001
    """On the TLS form the choices have the focus: ↓↓ to the third, Space chooses it, Tab to its e-mail."""
    assert pilot.app.focused is not None and pilot.app.focused.id == "tls-mode", pilot.app.focused
    await press_keys(pilot, "down", "down", "space", "tab")


async def test_acme_is_chosen_by_keyboard_its_fields_come_alive_and_the_answers_say_acme() -> None:
    engine = FakeEngine(acme_dns=dns_zone({(HOST, "A"): [FAKE_IPV4]}))
    app = make_app(engine)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await keyboard_to_tls(pilot)
        # Self-signed is the default: the ACME fields take no input and the prerequisites are not shown.
        assert field(app, "tls.email").input.disabled and field(app, "tls.server").input.disabled
        assert "port 80" not in screen_plain(app)
        await choose_acme(pilot)
        assert app.screen.query_one("#tls-acme").value
        assert not field(app, "tls.email").input.disabled and not field(app, "tls.server").input.disabled
        assert field(app, "tls.cert").input.disabled and field(app, "tls.key").input.disabled
        assert app.focused is field(app, "tls.email").input
        note = text_of(app.screen.query_one("#tls-acme-note"))
        assert f"{HOST}'s A/AAAA records point at this machine" in note
        assert "port 80 is reachable from the internet" in note and "cannot check" in note
        assert "empty: Let's Encrypt" in screen_plain(app)  # the directory's placeholder
        await type_text(pilot, EMAIL)
        await keyboard_to_review(pilot, passwords=False)
        await wait_for(pilot, lambda: "this machine." in acme_line(app) and "changes in" in screen_plain(app))
        tls = engine.plans[0].tls
        assert (tls.mode, tls.email, tls.server, tls.cert, tls.key) == ("acme", EMAIL, "", "", "")
        assert tls.mta_sts == "testing"  # left empty: the default
        assert acme_line(app) == f"✓ ACME: {HOST} has A {FAKE_IPV4}: this machine."
        assert [a.hostname for a in engine.acme_dns_asked] == [HOST]


async def test_the_mta_sts_mode_is_an_acme_field_testing_when_empty_and_a_bad_one_is_named() -> None:
    engine = FakeEngine(acme_dns=dns_zone({(HOST, "A"): [FAKE_IPV4]}))
    app = make_app(engine)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await keyboard_to_tls(pilot)
        assert field(app, "tls.mta_sts").input.disabled  # self-signed: no MTA-STS policy
        await choose_acme(pilot)
        assert not field(app, "tls.mta_sts").input.disabled
        await type_text(pilot, EMAIL)
        await press_keys(pilot, "tab", "tab")  # past the ACME directory
        assert app.focused is field(app, "tls.mta_sts").input
        await type_text(pilot, "strict")
        await press_keys(pilot, "pagedown")
        assert stage(app) == "tls"
        assert error_of(app, "tls.mta_sts") == "MTA-STS mode: 'strict' is not one of testing, enforce, none"
        await press_keys(pilot, "ctrl+u")
        await type_text(pilot, "enforce")
        await keyboard_to_review(pilot, passwords=False)
        await wait_for(pilot, lambda: "this machine." in acme_line(app) and "changes in" in screen_plain(app))
        assert engine.plans[0].tls.mta_sts == "enforce"


async def test_a_bad_email_or_a_plain_http_directory_names_its_field_and_the_wizard_stays() -> None:
    app = make_app(FakeEngine())  # the DNS check is not scripted: reaching it would fail the test
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await keyboard_to_tls(pilot)
        await choose_acme(pilot)
        await press_keys(pilot, "pagedown")  # nothing typed
        assert stage(app) == "tls" and error_of(app, "tls.email") == "Contact e-mail is empty"
        await type_text(pilot, "certs-at-example.org")
        assert "Contact e-mail: 'certs-at-example.org' is not an email address" in error_of(app, "tls.email")
        await press_keys(pilot, "pagedown")
        assert stage(app) == "tls" and "Contact e-mail: 'certs-at-example.org'" in screen_plain(app)  # shown
        # Fixed, then a directory that is not https: that field is named.
        await press_keys(pilot, "ctrl+u")  # the field emptied
        await type_text(pilot, EMAIL)
        assert error_of(app, "tls.email") == ""
        await press_keys(pilot, "tab")
        await type_text(pilot, "http://acme.example.net/directory")
        await press_keys(pilot, "pagedown")
        assert stage(app) == "tls"
        assert error_of(app, "tls.server") == "ACME directory: 'http://acme.example.net/directory' must start with https://"
        # Back to self-signed: the ACME fields are switched off, their errors go, and the wizard goes on.
        await press_keys(pilot, "shift+tab", "shift+tab")
        assert app.focused is not None and app.focused.id == "tls-mode"
        await press_keys(pilot, "up", "up", "enter")
        assert app.screen.query_one("#tls-self-signed").value
        assert error_of(app, "tls.server") == "" and field(app, "tls.server").input.disabled
        assert not app.screen.query_one("#tls-acme-note").display
        await press_keys(pilot, "pagedown")
        assert stage(app) == "webmail"


async def review_with_acme_warning(pilot) -> str:  # noqa: ANN001
    """ACME chosen with the keyboard, on to the review; the DNS line once it warns."""
    app = pilot.app
    await keyboard_to_tls(pilot)
    await choose_acme(pilot)
    await type_text(pilot, EMAIL)
    await keyboard_to_review(pilot, passwords=False)
    await wait_for(pilot, lambda: "⚠" in acme_line(app) and "changes in" in screen_plain(app))
    return acme_line(app)


async def test_dns_pointing_elsewhere_warns_on_the_review_and_the_install_still_goes_on() -> None:
    engine = FakeEngine(acme_dns=dns_zone({(HOST, "A"): [ELSEWHERE]}), runs=[ok_run(ALL_STEP_NAMES)])
    app = make_app(engine)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        said = await review_with_acme_warning(pilot)
        assert said.startswith("⚠ The CA will not be able to reach this machine:")
        assert f"{HOST} has A {ELSEWHERE}, this machine is {FAKE_IPV4}" in said
        assert "Installing anyway serves a self-signed certificate until an order succeeds" in said
        assert app.screen.query_one("#review-acme").has_class("acme-warning")
        plain = screen_plain(app)
        assert "The CA will not be able to reach" in plain and ELSEWHERE in plain  # on screen at 80x24
        # DNS is fixed meanwhile: r asks again.
        engine.acme_dns = dns_zone({(HOST, "A"): [FAKE_IPV4]})
        await press_keys(pilot, "r")
        await wait_for(pilot, lambda: acme_line(app).startswith("✓ ACME"))
        engine.acme_dns = dns_zone({(HOST, "A"): [ELSEWHERE]})
        await press_keys(pilot, "r")
        await wait_for(pilot, lambda: acme_line(app).startswith("⚠") and "changes in" in screen_plain(app))
        # A warning, not a stop: Confirm installs, ACME and all.
        await pilot.click("#review-confirm")
        await wait_for(pilot, lambda: "Install finished" in screen_plain(app))
        assert engine.started[0][0].tls.mode == "acme" and engine.started[0][0].tls.email == EMAIL
        assert "Certificate from the CA" in screen_plain(app)  # its step is listed in this mode


async def test_a_dns_server_that_does_not_answer_is_not_a_pass() -> None:
    app = make_app(FakeEngine(acme_dns=silent_dns))
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        said = await review_with_acme_warning(pilot)
        assert said.startswith("⚠ Not known whether the CA can reach this machine: the DNS server 192.0.2.53 did "
                               f"not answer within 3 s ({HOST} A); ")
        assert not app.screen.query_one("#review-confirm").disabled


async def test_without_acme_the_review_asks_no_dns_and_the_install_lists_no_acme_step() -> None:
    app = make_app(FakeEngine(runs=[ok_run()]))  # acme_dns_check is not scripted: a call fails the test
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await keyboard_to_review(pilot)
        await wait_for(pilot, lambda: "changes in" in screen_plain(app))
        assert not app.screen.query_one(ReviewPane).query_one("#review-acme").display
        await pilot.click("#review-confirm")
        await wait_for(pilot, lambda: "Install finished" in screen_plain(app))
        plain = screen_plain(app)
        assert "ACME" not in plain and "Continue" in plain  # 80x24 holds every row and the button


async def test_loaded_acme_answers_fill_the_form_and_keep_their_test_ca() -> None:
    """server_ca (a private CA's certificate, for tests) is not on the form: it stays as the answers had it
    while the mode stays ACME, and goes with the mode."""
    earlier = Answers(hostname=HOST, domains=[Domain("example.org")],
                      users=[User("boss@example.org", password_hash="$6$salt$hash")],
                      aliases=[Alias("postmaster@example.org", "boss@example.org")],
                      tls=Tls(mode="acme", email=EMAIL, server="https://ca.test:14000/dir",
                              server_ca="/root/pebble.minica.pem"))
    engine = FakeEngine(preflight=Preflight(earlier_install=True, install_state="done", suggested=earlier),
                        acme_dns=dns_zone({(HOST, "A"): [FAKE_IPV4]}))
    app = make_app(engine)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await pilot.pause()
        while stage(app) != "tls":
            await press_keys(pilot, "pagedown")
        assert app.screen.query_one("#tls-acme").value
        assert field(app, "tls.email").value == EMAIL and field(app, "tls.server").value == "https://ca.test:14000/dir"
        await keyboard_to_review(pilot, passwords=False)
        await wait_for(pilot, lambda: "changes in" in screen_plain(app) and "ACME:" in acme_line(app)
                       and "asking" not in acme_line(app))
        tls = engine.plans[0].tls
        assert (tls.mode, tls.email, tls.server, tls.server_ca) == (
            "acme", EMAIL, "https://ca.test:14000/dir", "/root/pebble.minica.pem")
        # Self-signed instead: every ACME setting goes (the answers would refuse them).
        await focus_by_tab(pilot, "review-back")
        await press_keys(pilot, "enter", "pageup", "pageup")  # Firewall, Webmail, SSL/TLS
        assert stage(app) == "tls" and app.focused is not None and app.focused.id == "tls-mode"
        await press_keys(pilot, "up", "up", "space")
        assert app.screen.query_one("#tls-self-signed").value
        tls = app.screen.build_answers().tls
        assert (tls.mode, tls.email, tls.server, tls.server_ca) == ("self-signed", "", "", "")
