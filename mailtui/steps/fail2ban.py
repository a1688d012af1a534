"""Brute-force protection: fail2ban jails for Postfix SASL and Dovecot logins, banning through nftables.

After `max_retry` failed logins from one address within `find_time` seconds, that address is refused
on the mail ports (25, 465, 587, 993; 995 with POP3) for `ban_time` seconds. Loopback and the
`[security] ignore` list are never banned.

Declared: one file, /etc/fail2ban/jail.d/mailtui.local, holding Debian's stock `postfix-sasl`
(filter `postfix[mode=auth]`) and `dovecot` jails switched on with mailtui's settings; both read
/var/log/mail.log (which mailtui always writes, see steps/postfix.py and steps/dovecot.py) with the
`auto` backend (inotify, else polling): these machines may have no systemd journal, and Debian 13's
defaults point the mail jails at it. The `mailtui-dovecot` filter counts each failed IMAP/POP3 login
once, in Dovecot 2.3's and 2.4's wording (Debian's filter, fail2ban 1.0.2 and 1.1.0, misses 2.4's
"Login aborted" and counts a 2.3 login twice; see DOVECOT_FILTER_TEXT).

Debian enables the stock `sshd` jail. Where it cannot read its log (Debian 12 points it at
/var/log/auth.log, which only rsyslog writes: "Have not found any log file for sshd jail"), fail2ban
refuses to start at all. Only then, and only while the sshd jail is as Debian ships it, mailtui's file
says how to read it (the journal where there is one) or switches it off, with a comment saying why; the
preview shows it. An sshd jail the administrator configured is left alone. (Debian 13 points it at the
journal; without systemd that backend starts and reads nothing, so it is left as it is.)
"""

from __future__ import annotations

import configparser
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mailtui import paths
from mailtui.errors import MailtuiError, StepFailed
from mailtui.events import StepEmitter
from mailtui.model.answers import Answers
from mailtui.policy import ports as policy_ports
from mailtui.policy import web
from mailtui.report import Change, Check
from mailtui.stack import probes
from mailtui.stack import services as safe_services
from mailtui.steps.base import Context, Resource, Step
from mailtui.steps.resources import AbsentFileResource, CommandResource, FileResource, path_exists
from mailtui.system import fail2ban, services
from mailtui.system.commands import run, which

FAIL2BAN_DIR = Path("/etc/fail2ban")
JAIL_FILE = FAIL2BAN_DIR / "jail.d" / "mailtui.local"
DOVECOT_FILTER = FAIL2BAN_DIR / "filter.d" / "mailtui-dovecot.conf"
SERVICE = "fail2ban"
JAILS = fail2ban.MAIL_JAILS
LOOPBACK = ("127.0.0.1/8", "::1")
# Files Debian ships that may configure the sshd jail (anything else is the administrator's).
STOCK_JAIL_FILES = ("jail.conf", "jail.d/defaults-debian.conf")
START_TIMEOUT = 30.0

# One line per failed login, from Dovecot's login processes: 2.3 "imap-login: Info: Disconnected: Aborted
# login by logging out (auth failed, 1 attempts in 2 secs): user=<…>, method=PLAIN, rip=198.18.7.1, …",
# 2.4 "imap-login: Info: Login aborted: Logged out (auth failed, 1 attempts in 2 secs) (auth_failed): …".
DOVECOT_FAILREGEX = (
    r"^(?:Aborted login|Login aborted|Disconnected|Remote closed connection|Client has quit the connection)"
    r"%(_bypass_reject_reason)s \((?:auth failed, \d+ attempts(?: in \d+ secs)?"
    r"|tried to use (?:disabled|disallowed) \S+ auth)\)(?: \(\w+\))?:"
    r"(?: user=<<F-USER>[^>]*</F-USER>>,)?(?: method=\S+,)? rip=<HOST>(?:[^>]*(?:, session=<\S+>)?)\s*$"
)
DOVECOT_FILTER_TEXT = (
    "# Written by mailtui: the failed logins of Dovecot's login processes, one line per login, in the\n"
    "# wording of Dovecot 2.3 and 2.4. Debian's dovecot filter misses 2.4's \"Login aborted\" and also counts\n"
    "# the auth process's \"Password mismatch\" lines: each failed IMAP login twice, and each failed SMTP AUTH\n"
    "# (Postfix asks Dovecot) once more, though the postfix-sasl jail counts those.\n"
    "[INCLUDES]\nbefore = dovecot.conf\n\n[Definition]\n"
    f"failregex = {DOVECOT_FAILREGEX}\n"
)


def jails_for(answers: Answers) -> tuple[str, ...]:
    """mailtui's jails for these answers: the mail jails, and the webmail's where it runs ([webmail])."""
    return (*JAILS, web.BAN_JAIL) if answers.webmail.enabled else JAILS


def mail_ports(answers: Answers) -> list[int]:
    """Every mail port these answers serve (policy/ports.py): a banned address is refused on all of them."""
    return sorted(p.number for p in policy_ports.served(answers))


# ---------------------------------------------------------------- the stock sshd jail


@dataclass(frozen=True)
class SshdJail:
    """Debian's sshd jail as the stock files configure it, and whether it can read its log here."""

    enabled: bool
    backend: str
    logpath: str
    stock: bool  # configured only by Debian's files (else the administrator's: left alone)


def _read_config(files: Sequence[Path]) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, inline_comment_prefixes=(";", "#"))
    for path in files:
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue
    return parser


def _jail_files(root: Path) -> list[Path]:
    """fail2ban's reading order: jail.conf, jail.d/*.conf, jail.local, jail.d/*.local (mailtui's own excepted)."""
    jail_d = root / "jail.d"
    found = [root / "jail.conf", *sorted(jail_d.glob("*.conf")), root / "jail.local", *sorted(jail_d.glob("*.local"))]
    return [p for p in found if p.is_file() and p.name != JAIL_FILE.name]


def _resolve(value: str, section: str, parser: configparser.RawConfigParser,
             paths_parser: configparser.RawConfigParser) -> str:
    """Expand `%(name)s` (the jail's section, then [DEFAULT], then Debian's paths files) and
    `%(default/name)s` ([DEFAULT] of the jail files), as fail2ban does; a few levels deep."""

    def lookup(match: re.Match[str]) -> str:
        key = match.group(1)
        if key.startswith("default/"):
            return parser.defaults().get(key.split("/", 1)[1], match.group(0))
        if parser.has_option(section, key):
            return parser.get(section, key)
        if paths_parser.has_option("DEFAULT", key):
            return paths_parser.get("DEFAULT", key)
        return match.group(0)

    for _ in range(5):
        value = re.sub(r"%\(([\w/]+)\)s", lookup, value)
    return value.strip()


def _jail_enabled(parser: configparser.RawConfigParser, jail: str) -> bool:
    return parser.get(jail, "enabled", fallback="false").strip().lower() in ("true", "yes", "1", "on")


def stock_sshd_jail(root: Path = FAIL2BAN_DIR) -> SshdJail | None:
    """The sshd jail as fail2ban would read it without mailtui's file; None when fail2ban is not installed."""
    files = _jail_files(root)
    if not files:
        return None
    parser = _read_config(files)
    # jail.conf includes paths-debian.conf, which includes paths-common.conf (other distributions' files
    # are shipped too, and ignored).
    paths_parser = _read_config([root / "paths-common.conf", root / "paths-debian.conf",
                                 root / "paths-overrides.local"])
    if not parser.has_section("sshd"):
        return SshdJail(False, "", "", True)
    stock_names = {str(root / name) for name in STOCK_JAIL_FILES}
    own = [p for p in files if str(p) not in stock_names]
    admin = _read_config(own)
    stock = not admin.has_section("sshd") and not any(
        admin.has_option("DEFAULT", k) for k in ("backend", "sshd_backend", "sshd_log"))
    enabled = _jail_enabled(parser, "sshd")
    backend = _resolve(parser.get("sshd", "backend", fallback="auto"), "sshd", parser, paths_parser)
    logpath = _resolve(parser.get("sshd", "logpath", fallback=""), "sshd", parser, paths_parser)
    return SshdJail(enabled, backend.split("[")[0].strip() or "auto", logpath, stock)


def systemd_backend_usable() -> bool:
    """fail2ban's systemd backend can initialise: python3-systemd is there (a dependency of fail2ban on
    Debian 13, only recommended on 12). Without a journal (no systemd) it starts and reads nothing."""
    return run(["python3", "-c", "import systemd.journal"], check=False, timeout=30).ok


def sshd_override(jail: SshdJail | None, *, systemd: bool, systemd_backend: bool) -> tuple[str, list[str]]:
    """What mailtui's file must say about the stock sshd jail so that fail2ban can start: ("", []) when
    nothing (the jail can start as it is, or the administrator configured it); else (why, settings) for an
    [sshd] section. `systemd`: this machine runs systemd (has a journal); `systemd_backend`: fail2ban's
    systemd backend can initialise."""
    if jail is None or not jail.enabled or not jail.stock:
        return "", []
    logs = [p for p in jail.logpath.split() if Path(p).exists()]
    if jail.backend == "systemd":
        if systemd_backend:
            return "", []
        if logs:
            return ("Debian's sshd jail reads the systemd journal, which fail2ban cannot read here (no "
                    f"python3-systemd): mailtui makes it read {logs[0]} instead"), ["backend = auto"]
        return ("Debian's sshd jail reads the systemd journal, which fail2ban cannot read here (no python3-systemd), "
                "and there is no sshd log file either: fail2ban would refuse to start, so mailtui switches that "
                "jail off"), ["enabled = false"]
    if logs or not jail.logpath:
        return "", []
    if systemd and systemd_backend:
        return (f"Debian's sshd jail reads {jail.logpath}, which nothing writes here (no rsyslog): mailtui makes "
                "it read the systemd journal instead"), ["backend = systemd"]
    return (f"Debian's sshd jail reads {jail.logpath}, which nothing writes here (no rsyslog, no systemd "
            "journal): fail2ban would refuse to start (\"Have not found any log file for sshd jail\"), so mailtui "
            "switches that jail off"), ["enabled = false"]


# ---------------------------------------------------------------- rendering


def render_jails(answers: Answers, sshd: tuple[str, list[str]] = ("", [])) -> str:
    s = answers.security
    ports = ",".join(str(p) for p in mail_ports(answers))
    ignore = " ".join([*LOOPBACK, *s.ignore])
    common = [
        "enabled = true",
        f"port = {ports}",
        f"logpath = {paths.MAIL_LOG}",
        "backend = auto",
        f"maxretry = {s.max_retry}",
        f"findtime = {s.find_time}",
        f"bantime = {s.ban_time}",
        f"ignoreip = {ignore}",
        "banaction = nftables-multiport",
    ]
    lines = [
        "# Written by mailtui (brute-force protection, [security] in the answers); replaced on every install.",
        "# Your own settings go in a file read after this one, e.g. /etc/fail2ban/jail.d/zz-local.local.",
        "",
        "# Failed SMTP AUTH on 587/465 (Postfix's SASL warnings).",
        "[postfix-sasl]",
        *common,
        "",
        "# Failed IMAP/POP3 logins (Dovecot 2.3 and 2.4 wording).",
        "[dovecot]",
        "filter = mailtui-dovecot",
        *common,
    ]
    if answers.webmail.enabled:
        web_ports = ",".join(str(p.number) for p in sorted(policy_ports.WEB_PORTS, key=lambda p: p.number))
        lines += [
            "",
            "# Failed webmail logins (Roundcube logs the browser's address): banned from the web ports.",
            f"[{web.BAN_JAIL}]",
            *[line for line in common if not line.startswith(("port =", "logpath ="))],
            f"port = {web_ports}",
            f"logpath = {web.ROUNDCUBE_ERRORS_LOG}",
        ]
    why, settings = sshd
    if settings:
        lines += ["", f"# {why}.", "[sshd]", *settings]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the step


def _running_jails() -> list[str]:
    result = run([fail2ban.CLIENT, "status"], check=False, timeout=30)
    return fail2ban.parse_jail_list(result.output) if result.ok else []


def enabled_on_disk(jail: str, root: Path = FAIL2BAN_DIR) -> bool:
    """The jail is switched on by fail2ban's configuration files other than mailtui's own."""
    parser = _read_config(_jail_files(root))
    return parser.has_section(jail) and _jail_enabled(parser, jail)


def _stale_of(running: list[str]) -> list[str]:
    return [j for j in running if j in (*JAILS, web.BAN_JAIL) and not enabled_on_disk(j)]


def stale_jails() -> list[str]:
    """mailtui's jails that fail2ban still runs though no file switches them on any more (mailtui's file
    removed, fail2ban not reloaded yet): [] when fail2ban is not running."""
    return _stale_of(_running_jails()) if services.is_running(SERVICE) else []


OFF_WHY = "brute-force protection is off in the answers: [security] fail2ban = false"


def _log_tail(lines: int = 15) -> str:
    try:
        text = Path("/var/log/fail2ban.log").read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class Fail2banStep(Step):
    name = "fail2ban"
    title = "Brute-force protection"
    why = ("fail2ban refuses an address for a while after repeated failed logins over SMTP, IMAP or POP3 "
           "(loopback and the addresses you list are never banned).")
    services = (SERVICE,)

    def enabled(self, ctx: Context) -> bool:
        # Switched off after an install, the step removes mailtui's files and jails; so it runs wherever
        # fail2ban is installed (with nothing of mailtui's there, it has nothing to do).
        return ctx.answers.security.fail2ban or which(fail2ban.CLIENT) is not None

    def resources(self, ctx: Context) -> Sequence[Resource]:
        if not ctx.answers.security.fail2ban:
            # The jail file first: it names the filter, and fail2ban refuses a jail whose filter is missing.
            return [AbsentFileResource(str(JAIL_FILE), OFF_WHY), AbsentFileResource(str(DOVECOT_FILTER), OFF_WHY)]
        jail = stock_sshd_jail()
        usable = jail is not None and jail.enabled and jail.stock and systemd_backend_usable()
        sshd = sshd_override(jail, systemd=services.has_systemd(), systemd_backend=usable)
        webmail_log: list[Resource] = []
        if ctx.answers.webmail.enabled:
            # fail2ban refuses a jail whose log is missing; Roundcube writes it at its first error.
            webmail_log.append(CommandResource(
                ["install", "-o", "www-data", "-g", "adm", "-m", "0640", "/dev/null", web.ROUNDCUBE_ERRORS_LOG],
                f"create {web.ROUNDCUBE_ERRORS_LOG} (the webmail jail reads it)",
                path_exists(web.ROUNDCUBE_ERRORS_LOG), checks=f"file {web.ROUNDCUBE_ERRORS_LOG}"))
        return [
            FileResource(str(DOVECOT_FILTER), DOVECOT_FILTER_TEXT),
            *webmail_log,
            FileResource(str(JAIL_FILE), render_jails(ctx.answers, sshd)),
        ]

    def services_for(self, ctx: Context) -> tuple[str, ...]:
        return ()  # started (or reloaded) in after_apply, which also waits for the jails

    def service_changes(self, ctx: Context, *, changed: bool) -> list[Change]:
        if not ctx.answers.security.fail2ban:
            if services.is_running(SERVICE) and (changed or stale_jails()):
                return [Change("service", SERVICE, "reload fail2ban without mailtui's jails (stop it when no "
                               "jail is left or its configuration does not load without them)")]
            return []
        if not services.is_running(SERVICE):
            return [Change("service", SERVICE, "start fail2ban and check its jails are up")]
        if changed:
            return [Change("service", SERVICE, "reload fail2ban (fail2ban-client reload) to load the new jails")]
        return []

    def after_apply(self, ctx: Context, out: StepEmitter, changed: bool) -> None:
        if not ctx.answers.security.fail2ban:
            self._drop_jails(out, changed)
            return
        if which(fail2ban.CLIENT) is None:
            raise StepFailed("fail2ban is not installed: the packages step installs it when [security] fail2ban "
                             "is true (run the install again)")
        if not services.is_running(SERVICE):
            out.line("starting fail2ban")
            result = services.control(SERVICE, "start", check=False)
        elif changed:
            out.line("reloading fail2ban (fail2ban-client reload)")
            result = run([fail2ban.CLIENT, "reload"], check=False, timeout=60)
        else:
            result = None
        deadline = time.monotonic() + START_TIMEOUT
        wanted = jails_for(ctx.answers)
        missing = [j for j in wanted if j not in _running_jails()]
        while missing and time.monotonic() < deadline:
            time.sleep(0.3)
            missing = [j for j in wanted if j not in _running_jails()]
        if missing:
            said = result.output.strip() if result is not None else ""
            raise StepFailed(
                f"fail2ban did not start the jails {', '.join(missing)} within {START_TIMEOUT:.0f} s"
                + (f":\n{said}" if said else "") + f"\n/var/log/fail2ban.log:\n{_log_tail()}")
        out.line(f"fail2ban jails running: {', '.join(_running_jails())}")

    def _drop_jails(self, out: StepEmitter, changed: bool) -> None:
        """mailtui's files are gone: reload fail2ban so that it drops mailtui's jails, or stop it when no
        jail is left or its configuration does not load without mailtui's file (Debian 12's stock sshd
        jail, which mailtui had switched off, stops fail2ban from starting)."""
        if not services.is_running(SERVICE) or not (changed or stale_jails()):
            return
        out.line("reloading fail2ban without mailtui's jails")
        result = run([fail2ban.CLIENT, "reload"], check=False, timeout=60)
        running = _running_jails() if result.ok else []
        stale = _stale_of(running)
        if running and not stale:
            out.line(f"fail2ban jails running: {', '.join(running)}")
            return
        if not result.ok:
            why = ("its configuration does not load without mailtui's file:\n"
                   + "\n".join(result.output.strip().splitlines()[-5:]))
        elif stale:
            why = f"the reload left mailtui's jails running ({', '.join(stale)})"
        else:
            why = "no jail is left without mailtui's"
        out.line(f"stopping fail2ban: {why}")
        try:
            safe_services.stop(SERVICE)
        except MailtuiError as e:
            raise StepFailed(f"fail2ban did not stop: {e}") from e

    def functional_checks(self, ctx: Context) -> list[Check]:
        if not ctx.answers.security.fail2ban:
            stale = stale_jails()
            return [Check("fail2ban runs none of mailtui's jails", not stale,
                          f"still running: {', '.join(stale)} (run the install again)" if stale else "")]
        return [probes.fail2ban_check(jails_for(ctx.answers))]
