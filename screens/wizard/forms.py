"""One form per install step, in the card's order. Each form fills itself from Answers (`load`), writes
its fields back into Answers (`store`), and validates inline through `mailtui.validate`."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mailtui.screens.widgets.fields import FieldRow, int_problem, with_label
from mailtui.screens.wizard.brute_force import protection_line
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Checkbox, Input, RadioButton, RadioSet, Static

from mailtui.model import validate
from mailtui.model.answers import Alias, Answers, Domain, Security, User, security_problems

if TYPE_CHECKING:
    from mailtui.screens.engine import Engine


def _secret(value: str) -> str | None:
    return validate.secret_problem(value)


def _optional_secret(value: str) -> str | None:
    return validate.secret_problem(value, minimum=1) if value else None


def _optional(check: Any) -> Any:
    def problem(value: str) -> str | None:
        return check(value) if value else None

    return problem


def _security_problem(name: str) -> Any:
    """The engine's own check of one [security] number (its range lives in mailtui.answers)."""

    def check(number: int) -> str | None:
        return security_problems(replace(Security(), **{name: number})).get(f"security.{name}")

    return int_problem(check)


SECURITY_FIELDS = ("max_retry", "find_time", "ban_time")


def _path_problem(value: str) -> str | None:
    if not value:
        return "is empty"
    if not value.startswith("/"):
        return "must be an absolute path"
    return None


class FormPane(VerticalScroll):
    """A wizard pane: a title, the step's plain-language why, then fields."""

    stage = ""
    heading = ""
    step_name = ""  # the engine step whose `why` explains this form
    why_text = ""

    def __init__(self, engine: Engine) -> None:
        super().__init__(id=self.stage, classes="pane form")
        self.engine = engine
        self.why = Static(self.why_text, classes="why")

    def compose_head(self) -> ComposeResult:
        yield Static(self.heading, classes="pane-title")
        yield self.why

    def set_why(self, text: str) -> None:
        if not self.why_text:
            self.why.update(text)

    # subclasses ---------------------------------------------------------
    def load(self, a: Answers, pf: Any = None) -> None:  # noqa: B027
        pass

    def store(self, a: Answers) -> Answers:
        return a

    def extra_problems(self) -> dict[str, str]:
        """Checks across fields (e.g. the password typed twice), keyed like answers.problems()."""
        return {}

    # shared -------------------------------------------------------------
    def fields(self) -> list[FieldRow]:
        return list(self.query(FieldRow))

    def field_for(self, key: str) -> FieldRow | None:
        for f in self.fields():
            if key in f.keys:
                return f
        return None

    def check(self) -> bool:
        ok = all([f.check() for f in self.fields()])
        for key, message in self.extra_problems().items():
            f = self.field_for(key)
            if f is not None:
                f.show_error(message)
            ok = False
        return ok

    def first_error(self) -> FieldRow | None:
        return next((f for f in self.fields() if f.has_class("has-error")), None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.screen.focus_next()


# ---------------------------------------------------------------------------- packages


class PackagesForm(FormPane):
    stage = "packages"
    heading = "1 · Packages"
    step_name = "packages"

    def compose(self) -> ComposeResult:
        yield from self.compose_head()
        yield Static("", id="pkg-versions", classes="facts")
        yield Checkbox("Submission on port 465 too (implicit TLS, beside 587)", True, id="cb-submissions",
                       compact=True)
        yield Checkbox("POP3 as well as IMAP (POP3S on 995)", False, id="cb-pop3", compact=True)
        yield Checkbox("Ban addresses after repeated failed logins (fail2ban)", True, id="cb-fail2ban",
                       compact=True)
        yield FieldRow("Max retries", "security.max_retry", problem=_security_problem("max_retry"))
        yield FieldRow("Window (s)", "security.find_time", problem=_security_problem("find_time"))
        yield FieldRow("Ban time (s)", "security.ban_time", problem=_security_problem("ban_time"))
        yield Static("", id="f2b-summary")

    def on_mount(self) -> None:
        for name in SECURITY_FIELDS:
            self.watch(self._security_field(name).input, "value", self._show_protection, init=False)

    def load(self, a: Answers, pf: Any = None) -> None:
        self.query_one("#cb-submissions", Checkbox).value = a.services.submissions
        self.query_one("#cb-pop3", Checkbox).value = a.services.pop3
        self.loaded_security = a.security
        self.query_one("#cb-fail2ban", Checkbox).value = a.security.fail2ban
        for name in SECURITY_FIELDS:
            self._security_field(name).value = str(getattr(a.security, name))
        self._sync_security()
        if pf is not None:
            def v(x: Any) -> str:
                return str(x) if x else "not installed"

            self.query_one("#pkg-versions", Static).update(
                f"Postfix: {v(pf.postfix_version)}   Dovecot: {v(pf.dovecot_version)}   "
                f"MariaDB: {v(pf.mariadb_version)}")

    def store(self, a: Answers) -> Answers:
        return replace(a, services=replace(
            a.services, submissions=self.query_one("#cb-submissions", Checkbox).value,
            pop3=self.query_one("#cb-pop3", Checkbox).value), security=self.security(a.security))

    def _security_field(self, name: str) -> FieldRow:
        f = self.field_for(f"security.{name}")
        assert f is not None, name
        return f

    def security(self, base: Security | None = None) -> Security:
        """The brute-force option as the form holds it. While it is off, numbers that would not do are
        left as they were (they are not used, and must not stop the install)."""
        base = base or getattr(self, "loaded_security", None) or Security()
        on_ = self.query_one("#cb-fail2ban", Checkbox).value
        values: dict[str, int] = {}
        for name in SECURITY_FIELDS:
            f = self._security_field(name)
            number = validate.whole_number(f.value)
            if not on_ and _security_problem(name)(f.value):
                number = getattr(base, name)
            values[name] = number if number is not None else 0
        return replace(base, fail2ban=on_, **values)

    def _sync_security(self) -> None:
        on_ = self.query_one("#cb-fail2ban", Checkbox).value
        for name in SECURITY_FIELDS:
            f = self._security_field(name)
            f.input.disabled = not on_
            if not on_:
                f.show_error(None)
        self._show_protection()

    def _show_protection(self, _value: object = None) -> None:
        security = self.security()
        if security.fail2ban and any(_security_problem(n)(self._security_field(n).value) for n in SECURITY_FIELDS):
            text = "→ fix the numbers above"
        else:
            text = protection_line(security)
        self.query_one("#f2b-summary", Static).update(Text(text))

    @on(Checkbox.Changed, "#cb-fail2ban")
    def fail2ban_toggled(self) -> None:
        self._sync_security()


# ---------------------------------------------------------------------------- database


class DatabaseForm(FormPane):
    stage = "database"
    heading = "2 · Database"
    step_name = "database"

    def compose(self) -> ComposeResult:
        yield from self.compose_head()
        yield FieldRow("Server", "database.host", problem=validate.host_problem)
        yield FieldRow("Port", "database.port", problem=int_problem(validate.port_problem))
        yield FieldRow("Database", "database.name", problem=lambda v: validate.identifier_problem(v, 64))
        yield FieldRow("Lookup user", "database.user", problem=lambda v: validate.identifier_problem(v, 32))
        yield FieldRow("Its password", "database.password", password=True, problem=_secret)
        yield FieldRow("Admin user", "database.admin_user", problem=lambda v: validate.identifier_problem(v, 32))
        yield FieldRow("Its password", "database.admin_password", password=True, problem=_secret)
        yield Checkbox("Show the passwords", False, id="cb-db-show", compact=True)
        yield Static("Remote server only — an account that may create the database (used once, never saved):",
                     classes="note")
        yield FieldRow("Remote admin", "database.root_user", optional=True,
                       problem=_optional(lambda v: validate.identifier_problem(v, 32)))
        yield FieldRow("Its password", "database.root_password", password=True, optional=True)

    def load(self, a: Answers, pf: Any = None) -> None:
        db = a.database
        values = {
            "database.host": db.host, "database.port": str(db.port), "database.name": db.name,
            "database.user": db.user, "database.password": db.password or self.engine.generate_password(),
            "database.admin_user": db.admin_user,
            "database.admin_password": db.admin_password or self.engine.generate_password(),
            "database.root_user": db.root_user, "database.root_password": db.root_password,
        }
        for f in self.fields():
            f.value = values[f.key]

    def _v(self, key: str) -> str:
        f = self.field_for(key)
        assert f is not None
        return f.value

    def store(self, a: Answers) -> Answers:
        port = self._v("database.port").strip()
        return replace(a, database=replace(
            a.database, host=self._v("database.host").strip(), port=validate.whole_number(port) or 0,
            name=self._v("database.name").strip(), user=self._v("database.user").strip(),
            password=self._v("database.password"), admin_user=self._v("database.admin_user").strip(),
            admin_password=self._v("database.admin_password"), root_user=self._v("database.root_user").strip(),
            root_password=self._v("database.root_password")))

    def extra_problems(self) -> dict[str, str]:
        if self._v("database.user").strip() == self._v("database.admin_user").strip():
            return {"database.admin_user": "must differ from the lookup user (that one is read-only)"}
        return {}

    @on(Checkbox.Changed, "#cb-db-show")
    def show_passwords(self, event: Checkbox.Changed) -> None:
        for key in ("database.password", "database.admin_password", "database.root_password"):
            f = self.field_for(key)
            if f is not None:
                f.input.password = not event.value


# ---------------------------------------------------------------------------- postfix


class PostfixForm(FormPane):
    stage = "postfix"
    heading = "3 · Postfix"
    step_name = "postfix"

    def compose(self) -> ComposeResult:
        yield from self.compose_head()
        yield FieldRow("Hostname", "hostname", problem=validate.hostname_problem)
        yield FieldRow("First domain", "domains[0].name", problem=validate.domain_problem)
        yield FieldRow("Max message MB", "limits.message_size_mb",
                       problem=int_problem(lambda n: None if 1 <= n <= 2048 else "must be between 1 and 2048"))
        yield Static("Outgoing mail goes straight to the recipients' servers unless you name a relay "
                     "(e.g. your provider's smarthost when port 25 is blocked):", classes="note")
        yield FieldRow("Relay host", "outbound.relayhost", optional=True, placeholder="[smtp.example.net]:587",
                       problem=_optional(validate.relayhost_problem))
        yield FieldRow("Relay user", "outbound.user", optional=True)
        yield FieldRow("Relay password", "outbound.password", password=True, optional=True,
                       problem=_optional_secret)

    def load(self, a: Answers, pf: Any = None) -> None:
        values = {
            "hostname": a.hostname, "domains[0].name": a.domains[0].name if a.domains else "",
            "limits.message_size_mb": str(a.limits.message_size_mb),
            "outbound.relayhost": a.outbound.relayhost, "outbound.user": a.outbound.user,
            "outbound.password": a.outbound.password,
        }
        for f in self.fields():
            f.value = values[f.key]

    def _v(self, key: str) -> str:
        f = self.field_for(key)
        assert f is not None
        return f.value.strip()

    @property
    def domain(self) -> str:
        return validate.canonical_domain(self._v("domains[0].name"))

    def store(self, a: Answers) -> Answers:
        size = self._v("limits.message_size_mb")
        domains = [Domain(self._v("domains[0].name")), *a.domains[1:]]
        return replace(
            a, hostname=self._v("hostname"), domains=domains,
            limits=replace(a.limits, message_size_mb=validate.whole_number(size) or 0),
            outbound=replace(a.outbound, relayhost=self._v("outbound.relayhost"), user=self._v("outbound.user"),
                             password=self._v("outbound.password")))

    def extra_problems(self) -> dict[str, str]:
        p: dict[str, str] = {}
        user, password = self._v("outbound.user"), self._v("outbound.password")
        if bool(user) != bool(password):
            p["outbound.user"] = "give both a relay user and a relay password, or neither"
        if user and not self._v("outbound.relayhost"):
            p["outbound.relayhost"] = "is needed for a relay user and password"
        hostname = validate.canonical_domain(self._v("hostname"))
        if self.domain and self.domain == hostname:
            p["domains[0].name"] = (f"is the server's own hostname; use a hostname such as mail.{self.domain}")
        return p


# ---------------------------------------------------------------------------- users and aliases

ALIAS_ROWS = 3


class UsersForm(FormPane):
    stage = "users"
    heading = "4 · First user and aliases"
    why_text = ("The first mailbox, and addresses that forward to it. Other mail servers expect "
                "postmaster@ and abuse@ to reach a person.")

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.derived: dict[str, str] = {}  # field key -> the default it was given (kept in step with the domain)
        self.alias_rows = ALIAS_ROWS

    def compose(self) -> ComposeResult:
        yield from self.compose_head()
        yield FieldRow("Email", "users[0].email", problem=validate.address_problem)
        yield FieldRow("Password", "users[0].password", password=True, problem=validate.mailbox_password_problem)
        yield FieldRow("Again", "users[0].password2", password=True)
        with Horizontal(classes="inline-buttons"):
            yield Button("Generate a password", id="btn-generate", compact=True)
            yield Static("", id="generated")
        yield Static("Aliases (address → where it goes; leave a row empty to skip it):", classes="note")
        for i in range(self.alias_rows):
            yield FieldRow(f"Alias {i + 1}", f"aliases[{i}].source", optional=True,
                           problem=_optional(validate.alias_source_problem))
            yield FieldRow("  goes to", f"aliases[{i}].destination", optional=True,
                           problem=_optional(validate.address_problem))

    def _f(self, key: str) -> FieldRow:
        f = self.field_for(key)
        assert f is not None, key
        return f

    def load(self, a: Answers, pf: Any = None) -> None:
        user = a.users[0] if a.users else User("")
        self._f("users[0].email").value = user.email
        self._f("users[0].password").value = user.password
        self._f("users[0].password2").value = user.password
        for i in range(self.alias_rows):
            alias = a.aliases[i] if i < len(a.aliases) else Alias("", "")
            self._f(f"aliases[{i}].source").value = alias.source
            self._f(f"aliases[{i}].destination").value = alias.destination
        # Other servers expect postmaster@ and abuse@ to reach a person: offer them where missing.
        domain = a.domains[0].name if a.domains else ""
        if domain and user.email:
            sources = {x.source for x in a.aliases}
            free = [i for i in range(self.alias_rows) if not self._f(f"aliases[{i}].source").value]
            for local in ("postmaster", "abuse"):
                if f"{local}@{domain}" not in sources and free:
                    i = free.pop(0)
                    self._f(f"aliases[{i}].source").value = f"{local}@{domain}"
                    self._f(f"aliases[{i}].destination").value = user.email
        self.derived = {f.key: f.value for f in self.fields() if "password" not in f.key}
        self.domain_seen = a.domains[0].name if a.domains else ""

    def follow_domain(self, domain: str) -> None:
        """Keep the addresses nobody edited (admin@, postmaster@, abuse@ …) in the domain typed on Postfix."""
        old = getattr(self, "domain_seen", "")
        self.domain_seen = domain
        if not domain or not old or domain == old:
            return
        for f in self.fields():
            if "password" in f.key:
                continue
            value = f.value
            if value == self.derived.get(f.key) and value.endswith(f"@{old}"):
                f.value = value[: -len(old)] + domain
                self.derived[f.key] = f.value

    @on(Button.Pressed, "#btn-generate")
    def generate(self) -> None:
        password = self.engine.generate_password()
        self._f("users[0].password").value = password
        self._f("users[0].password2").value = password
        self.query_one("#generated", Static).update(f"Generated: {password} — note it now, it is not shown again")

    def store(self, a: Answers) -> Answers:
        email = self._f("users[0].email").value.strip()
        first = User(email, self._f("users[0].password").value)
        aliases = []
        self.alias_keys: dict[str, str] = {}
        for i in range(self.alias_rows):
            src = self._f(f"aliases[{i}].source").value.strip()
            dst = self._f(f"aliases[{i}].destination").value.strip()
            if src or dst:
                n = len(aliases)
                self.alias_keys[f"aliases[{n}].source"] = f"aliases[{i}].source"
                self.alias_keys[f"aliases[{n}].destination"] = f"aliases[{i}].destination"
                aliases.append(Alias(src, dst))
        return replace(a, users=[first, *a.users[1:]], aliases=aliases + a.aliases[self.alias_rows:])

    def field_for(self, key: str) -> FieldRow | None:
        key = getattr(self, "alias_keys", {}).get(key, key)
        return super().field_for(key)

    def extra_problems(self) -> dict[str, str]:
        p: dict[str, str] = {}
        if self._f("users[0].password").value != self._f("users[0].password2").value:
            p["users[0].password2"] = "the two passwords differ"
        for i in range(self.alias_rows):
            src = self._f(f"aliases[{i}].source").value.strip()
            dst = self._f(f"aliases[{i}].destination").value.strip()
            if src and not dst:
                p[f"aliases[{i}].destination"] = "is empty (where should the alias go?)"
            if dst and not src:
                p[f"aliases[{i}].source"] = "is empty (which address forwards?)"
        return p


# ---------------------------------------------------------------------------- dovecot


class DovecotForm(FormPane):
    stage = "dovecot"
    heading = "5 · Dovecot"
    step_name = "dovecot"

    def compose(self) -> ComposeResult:
        yield from self.compose_head()
        yield Static("", id="dovecot-facts", classes="facts")
        yield Static("Nothing to choose here: POP3 is chosen on Packages.", classes="note")

    def load(self, a: Answers, pf: Any = None) -> None:
        version = getattr(pf, "dovecot_version", None) or "not installed yet (the packages step installs it)"
        pop3 = "IMAPS 993 and POP3S 995" if a.services.pop3 else "IMAPS 993 (no POP3)"
        self.query_one("#dovecot-facts", Static).update(
            f"• Mailboxes: /var/mail/vhosts/<domain>/<user>, owner vmail (uid 5000)\n"
            f"• Logins: checked against the database; only over TLS\n"
            f"• Serves: {pop3}\n"
            f"• Delivery: Postfix hands mail over LMTP\n"
            f"• Dovecot here: {version}")


# ---------------------------------------------------------------------------- tls


class TlsForm(FormPane):
    stage = "tls"
    heading = "6 · SSL/TLS"
    step_name = "tls"

    def compose(self) -> ComposeResult:
        yield from self.compose_head()
        with RadioSet(id="tls-mode", compact=True):
            yield RadioButton("Self-signed certificate, made now (replace it later)", True, id="tls-self-signed")
            yield RadioButton("Certificate and key files I already have", id="tls-files")
        yield FieldRow("Certificate", "tls.cert", problem=_path_problem, placeholder="/etc/ssl/…/fullchain.pem")
        yield FieldRow("Private key", "tls.key", problem=_path_problem, placeholder="/etc/ssl/…/privkey.pem")

    @property
    def mode(self) -> str:
        return "files" if self.query_one("#tls-files", RadioButton).value else "self-signed"

    def _sync(self) -> None:
        for f in self.fields():
            f.input.disabled = self.mode != "files"
            if f.input.disabled:
                f.show_error(None)

    def load(self, a: Answers, pf: Any = None) -> None:
        self.query_one("#tls-files" if a.tls.mode == "files" else "#tls-self-signed", RadioButton).value = True
        for f in self.fields():
            f.value = getattr(a.tls, f.key.split(".")[1])
        self._sync()

    @on(RadioSet.Changed)
    def mode_changed(self) -> None:
        self._sync()

    def store(self, a: Answers) -> Answers:
        if self.mode == "files":
            cert, key = (f.value.strip() for f in self.fields())
            return replace(a, tls=replace(a.tls, mode="files", cert=cert, key=key))
        return replace(a, tls=replace(a.tls, mode="self-signed", cert="", key=""))


# ---------------------------------------------------------------------------- firewall


class FirewallForm(FormPane):
    stage = "firewall"
    heading = "7 · Firewall"
    step_name = "firewall"

    def compose(self) -> ComposeResult:
        yield from self.compose_head()
        yield Checkbox("Enable the ufw firewall", True, id="cb-firewall", compact=True)
        yield FieldRow("SSH port", "firewall.ssh_port", problem=int_problem(validate.port_problem))
        yield Static("", id="fw-rules", classes="facts")

    def load(self, a: Answers, pf: Any = None) -> None:
        self.query_one("#cb-firewall", Checkbox).value = a.firewall.enable
        port = a.firewall.ssh_port
        detected = ""
        if port is None:
            ports = self.engine.ssh_ports(a)
            port = ports[0] if ports else 22
            detected = f" (detected: {', '.join(map(str, ports))})"
        f = self.field_for("firewall.ssh_port")
        assert f is not None
        f.value = str(port)
        self.detected = detected
        ufw = ""
        if pf is not None:
            ufw = ("ufw is active now" if pf.ufw_active else "ufw is installed, inactive" if pf.ufw_installed
                   else "ufw is not installed yet")
        self.ufw = ufw
        self.update_rules(a)

    def update_rules(self, a: Answers) -> None:
        ports = [("SSH", self.field_for("firewall.ssh_port").value or "?")]  # type: ignore[union-attr]
        ports += [(label, str(port)) for port, label in self.engine.mail_ports(a)]
        rules = "\n".join(f"  allow {p}/tcp  {label}" for label, p in ports)
        self.query_one("#fw-rules", Static).update(
            f"Rules it adds{getattr(self, 'detected', '')}:\n{rules}\n{getattr(self, 'ufw', '')}".rstrip())

    def store(self, a: Answers) -> Answers:
        port = self.field_for("firewall.ssh_port").value.strip()  # type: ignore[union-attr]
        return replace(a, firewall=replace(a.firewall, enable=self.query_one("#cb-firewall", Checkbox).value,
                                           ssh_port=validate.whole_number(port) or 0))

    @on(Checkbox.Changed, "#cb-firewall")
    def toggled(self, event: Checkbox.Changed) -> None:
        f = self.field_for("firewall.ssh_port")
        assert f is not None
        f.input.disabled = not event.value


FORMS: list[type[FormPane]] = [PackagesForm, DatabaseForm, PostfixForm, UsersForm, DovecotForm, TlsForm,
                               FirewallForm]

__all__ = ["FORMS", "FormPane", "with_label"]
