"""Dovecot: IMAPS (and POP3S) for the virtual users, LMTP delivery from Postfix, SASL for Postfix.

mailtui owns the whole /etc/dovecot/dovecot.conf (Debian's conf.d/ is not included: see the file's
header) plus a root-only file with the database login. Two dialects, chosen by the installed (or
to-be-installed) Dovecot: 2.3 (Debian 12, Ubuntu 22.04/24.04) and 2.4 (Debian 13, Ubuntu 26.04).

  DovecotSettings.from_answers(...)  -> everything the files depend on (pure data)
  render_23(settings) / render_24()  -> DovecotFiles(main, sql)         (pure text)
  DovecotStep                        -> the vmail user, directories and the two files

A broken configuration is never written: before either file is replaced the complete new set
(plus the operator's local.conf) is checked with `doveconf -n` and `doveconf -x` in a scratch
directory; -x also opens the certificate, key and DH files, which Dovecot needs in order to start.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template
from typing import Literal

from mailtui import paths
from mailtui.errors import StepFailed, ValidationError
from mailtui.events import StepEmitter
from mailtui.model.answers import Answers
from mailtui.policy import spam, tls
from mailtui.report import Check
from mailtui.stack import probes
from mailtui.stack import services as safe_services
from mailtui.steps import dovecot_sieve
from mailtui.steps import spam as spam_step
from mailtui.steps.base import Context, Resource, Step
from mailtui.steps.resources import DirectoryResource, FileResource, SystemUserResource
from mailtui.steps.tls import cert_path, dh_file, key_path
from mailtui.system import logs, services
from mailtui.system.commands import run, which

Dialect = Literal["2.3", "2.4"]

CONF_DIR = "/etc/dovecot"
MAIN_NAME = "dovecot.conf"
# Not Debian's dovecot-sql.conf.ext: dovecot-core's postinst (12) resets that one to root:dovecot 0640
# on every upgrade, and 13's postinst treats it as an obsolete conffile. A name of our own is left alone.
SQL_NAME = "mailtui-sql.conf.ext"
LOCAL_NAME = "local.conf"  # the operator's overrides, included last; never written by mailtui
POSTFIX_PRIVATE = "/var/spool/postfix/private"
VMAIL = "vmail"
# 2.4: the oldest 2.4 release's defaults (every 2.4.x accepts it; a newer value fails on older 2.4).
CONFIG_VERSION_24 = "2.4.0"
STORAGE_VERSION_24 = "2.4.0"
# The dashboard's debug switch (root 0600, "on" while on): read whenever the step renders, so a
# later `mailtui install` keeps the operator's choice instead of silently undoing it.
# Characters that would break out of a value in either dialect's syntax.
_UNSAFE = re.compile(r"[\s\"'\\#%{}$`;]")


def debug_flag() -> bool:
    """Whether the operator switched Dovecot's debug logging on (see mailtui.service_status)."""
    try:
        return paths.DEBUG_FLAG.read_text(encoding="utf-8").strip().lower() in ("on", "1", "yes", "true")
    except OSError:
        return False


@dataclass(frozen=True)
class DovecotSettings:
    """Everything the rendered files depend on; built from the answers, rendered without I/O."""

    dialect: Dialect
    hostname: str
    pop3: bool
    cert_file: str
    key_file: str
    db_host: str
    db_port: int
    db_name: str
    db_user: str
    db_password: str = field(repr=False)
    dh_file: str | None = None  # 2.3: ssl_dh (required); 2.4: ssl_server_dh_file (optional)
    log_file: str | None = None  # None: syslog (Dovecot's default)
    junk_sieve: str | None = None  # the spam filter's Sieve script, run before every delivery ([spam])
    user_sieve: bool = False  # each user's own filters and vacation reply, managed over ManageSieve ([webmail])
    debug: bool = False  # auth_debug, mail_debug and TLS debugging; never the *_passwords settings
    mail_root: str = paths.MAIL_ROOT
    vmail: str = VMAIL
    conf_dir: str = CONF_DIR
    postfix_private: str = POSTFIX_PRIVATE
    auth_cache_size: str = "10M"
    auth_cache_ttl: str = "1 hour"
    # Short, so that a mailbox added from the dashboard can log in soon after a failed try.
    auth_cache_negative_ttl: str = "5 mins"

    @classmethod
    def from_answers(cls, answers: Answers, *, dialect: Dialect, dh_file: str | None = None,
                     log_to_file: bool = False, debug: bool = False) -> DovecotSettings:
        db = answers.database
        return cls(
            dialect=dialect,
            hostname=answers.hostname,
            pop3=answers.services.pop3,
            cert_file=cert_path(answers),
            key_file=key_path(answers),
            # 127.0.0.1 like Postfix's maps, so both reach MariaDB the same way (and as the same account).
            db_host="127.0.0.1" if db.is_local else db.host,
            db_port=db.port,
            db_name=db.name,
            db_user=db.user,
            db_password=db.password,
            dh_file=dh_file,
            junk_sieve=spam.JUNK_SIEVE if answers.spam.enabled else None,
            user_sieve=answers.webmail.enabled,
            log_file=paths.MAIL_LOG if log_to_file else None,
            debug=debug,
        )

    @property
    def main_path(self) -> str:
        return f"{self.conf_dir}/{MAIN_NAME}"

    @property
    def sql_path(self) -> str:
        return f"{self.conf_dir}/{SQL_NAME}"

    @property
    def protocols(self) -> str:
        return " ".join(["imap", "lmtp", *(["pop3"] if self.pop3 else []), *(["sieve"] if self.user_sieve else [])])


@dataclass(frozen=True)
class DovecotFiles:
    main: str  # dovecot.conf: no secrets
    sql: str  # the database login: root-only


def _template(name: str) -> Template:
    return Template((resources.files("mailtui.assets") / "templates" / name).read_text(encoding="utf-8"))


def _checked(s: DovecotSettings) -> None:
    """Refuse values that would break the syntax (answers validation normally catches them first)."""
    values = {"hostname": s.hostname, "database.host": s.db_host, "database.name": s.db_name,
              "database.user": s.db_user, "database.password": s.db_password,
              "tls.cert": s.cert_file, "tls.key": s.key_file}
    problems = {key: "is empty" if not value else "has characters Dovecot's configuration cannot hold"
                for key, value in values.items() if not value or _UNSAFE.search(value)}
    if problems:
        raise ValidationError(problems)


def _pop3_service(s: DovecotSettings) -> str:
    if not s.pop3:
        return ""
    return ("service pop3-login {\n  inet_listener pop3 {\n    port = 0\n  }\n"
            "  inet_listener pop3s {\n    port = 995\n    ssl = yes\n  }\n}\n")


def _logging(s: DovecotSettings) -> str:
    if s.log_file is None:
        return "# Messages go to syslog (mail facility)."
    host = s.hostname.split(".", 1)[0]
    return ("# No syslog daemon here: Dovecot writes the mail log itself, next to Postfix's lines and in\n"
            "# the same syslog-like shape (\"<date> <host> dovecot: <process>: ...\").\n"
            f"log_path = {s.log_file}\ninfo_log_path = {s.log_file}\n"
            f'log_timestamp = "%b %d %H:%M:%S {host} dovecot: "')


def _tidy(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


def _common(s: DovecotSettings) -> dict[str, object]:
    _checked(s)
    return {
        "main_path": s.main_path, "conf_dir": s.conf_dir, "sql_path": s.sql_path, "sql_name": SQL_NAME,
        "protocols": s.protocols, "cert_file": s.cert_file, "key_file": s.key_file,
        "auth_cache_size": s.auth_cache_size, "auth_cache_ttl": s.auth_cache_ttl,
        "auth_cache_negative_ttl": s.auth_cache_negative_ttl, "vmail": s.vmail, "mail_root": s.mail_root,
        "hostname": s.hostname, "logging": _logging(s), "pop3_service": _pop3_service(s),
        "postfix_private": s.postfix_private, "db_host": s.db_host, "db_port": s.db_port,
        "db_name": s.db_name, "db_user": s.db_user, "db_password": s.db_password,
        "ssl_min_protocol": tls.dovecot_min_protocol(),
        "ssl_cipher_list": tls.dovecot_cipher_list(),
    }


def render_23(s: DovecotSettings) -> DovecotFiles:
    """Dovecot 2.3: passdb/userdb by driver, the SQL login as the passdb's args file."""
    values = _common(s)
    values.update(dovecot_sieve.sieve_23(s.junk_sieve, s.user_sieve))
    values["dh_line"] = f"ssl_dh = <{s.dh_file}" if s.dh_file else ""
    values["debugging"] = ("# Debugging (switched on from mailtui's dashboard).\n"
                           "auth_debug = yes\nmail_debug = yes\nverbose_ssl = yes") if s.debug else ""
    return DovecotFiles(_tidy(_template("dovecot-2.3.conf").substitute(values)),
                        _tidy(_template("mailtui-sql-2.3.conf.ext").substitute(values)))


def render_24(s: DovecotSettings) -> DovecotFiles:
    """Dovecot 2.4: named passdb/userdb sections, `mysql HOST { }` in an !include'd root-only file."""
    values = _common(s)
    values.update(dovecot_sieve.sieve_24(s.junk_sieve, s.user_sieve))
    values["config_version"] = CONFIG_VERSION_24
    values["storage_version"] = STORAGE_VERSION_24
    values["dh_line"] = f"ssl_server_dh_file = {s.dh_file}" if s.dh_file else ""
    # 2.4 dropped verbose_ssl; TLS debugging is the "ssl" log category.
    values["debugging"] = ("# Debugging (switched on from mailtui's dashboard).\n"
                           "auth_debug = yes\nmail_debug = yes\nlog_debug = category=ssl") if s.debug else ""
    return DovecotFiles(_tidy(_template("dovecot-2.4.conf").substitute(values)),
                        _tidy(_template("mailtui-sql-2.4.conf.ext").substitute(values)))


def render(s: DovecotSettings) -> DovecotFiles:
    return render_24(s) if s.dialect == "2.4" else render_23(s)


# ---------------------------------------------------------------- validation with the real doveconf

def _doveconf(root: str, *args: str) -> list[str]:
    return ["doveconf", *args] if root == "/" else ["chroot", root, "doveconf", *args]


def _doveconf_message(output: str, scratch: str, conf_dir: str) -> str:
    lines = [ln for ln in output.splitlines() if "Fatal:" in ln or "Error:" in ln] or output.splitlines()
    return "\n".join(lines).replace(scratch, conf_dir).strip()


def doveconf_problem(main_path: str, *, root: str = "/") -> str | None:
    """None when doveconf accepts the file and can open every file it names (certificate, key, DH,
    includes); else doveconf's own message. `root` runs the doveconf of a chroot (tests); main_path
    is then inside it."""
    if root == "/" and not which("doveconf"):
        return "doveconf is not installed (package dovecot-core)"
    for args in (["-n", "-c", main_path], ["-x", "-c", main_path, "ssl_min_protocol"]):
        result = run(_doveconf(root, *args), check=False)
        if not result.ok:
            return result.output.strip() or f"doveconf {' '.join(args)} failed ({result.returncode})"
    return None


def check_files(files: DovecotFiles, *, conf_dir: str = CONF_DIR, root: str = "/") -> str | None:
    """Check a rendered pair before it is written: both files (and the operator's local.conf, if any)
    go into a root-only scratch directory, where the relative includes find them."""
    host_root = Path(root)
    scratch = tempfile.mkdtemp(prefix="mailtui-dovecot-", dir=host_root / "tmp")
    try:
        base = Path(scratch)
        (base / MAIN_NAME).write_text(files.main, encoding="utf-8")
        sql = base / SQL_NAME
        sql.touch(mode=0o600)
        sql.write_text(files.sql, encoding="utf-8")
        local = host_root / conf_dir.lstrip("/") / LOCAL_NAME
        if local.is_file():
            shutil.copyfile(local, base / LOCAL_NAME)
        inside = "/" + str(base.relative_to(host_root))
        problem = doveconf_problem(f"{inside}/{MAIN_NAME}", root=root)
        return None if problem is None else _doveconf_message(problem, inside, conf_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@dataclass
class CheckedFileResource(FileResource):
    """A FileResource that runs `check` (raising StepFailed) before it writes anything."""

    check: Callable[[], None] | None = None

    def apply(self, ctx: Context, out: StepEmitter) -> None:
        if self.check is not None:
            self.check()
        super().apply(ctx, out)


Resource.register(CheckedFileResource)


# ---------------------------------------------------------------- the step

class DovecotStep(Step):
    name = "dovecot"
    title = "Dovecot"
    why = ("Dovecot keeps the mailboxes: it takes mail from Postfix (LMTP), checks logins against the "
           "database for Postfix and for mail apps, and serves IMAPS on port 993.")
    services = ("dovecot",)

    def __init__(self, *, log_to_file: bool | None = None, debug: bool | None = None) -> None:
        # log_to_file None: decide like the Postfix step (no syslog daemon -> write the mail log).
        self.log_to_file = log_to_file
        # debug None: the stored switch (paths.DEBUG_FLAG), so an install keeps what the dashboard set.
        self.debug = debug

    def settings(self, ctx: Context) -> DovecotSettings:
        dialect: Dialect = "2.4" if ctx.platform.dovecot_dialect() == "2.4" else "2.3"
        log_to_file = logs.log_to_file() if self.log_to_file is None else self.log_to_file
        return DovecotSettings.from_answers(ctx.answers, dialect=dialect, dh_file=dh_file(ctx),
                                            log_to_file=log_to_file,
                                            debug=debug_flag() if self.debug is None else self.debug)

    def resources(self, ctx: Context) -> Sequence[Resource]:
        s = self.settings(ctx)
        files = render(s)
        checked: list[bool] = []

        def check() -> None:
            if checked:
                return  # the same rendered pair; checked once per apply
            problem = check_files(files, conf_dir=s.conf_dir)
            if problem:
                raise StepFailed(f"Dovecot would not accept the new configuration, so nothing was "
                                 f"written:\n{problem}")
            checked.append(True)

        return [
            SystemUserResource(s.vmail, paths.VMAIL_UID, "/var/mail"),
            DirectoryResource(s.mail_root, owner=s.vmail, group=s.vmail, mode=0o770),
            # Dovecot's LMTP and auth sockets go here; it exists only after Postfix's first start.
            DirectoryResource(s.postfix_private, owner="postfix", group="root", mode=0o700),
            CheckedFileResource(s.sql_path, files.sql, mode=0o600, secret=True, check=check),
            CheckedFileResource(s.main_path, files.main, mode=0o644, check=check),
        ]

    def ensure_services(self, ctx: Context, out: StepEmitter, changed: bool) -> None:
        was_running = services.is_running("dovecot")
        super().ensure_services(ctx, out, changed)
        if changed and was_running:
            # Postfix's smtpd processes would keep a dead connection to the old auth server.
            out.line(safe_services.reconnect_postfix_to_dovecot().strip())

    def after_apply(self, ctx: Context, out: StepEmitter, changed: bool) -> None:
        problem = doveconf_problem(f"{CONF_DIR}/{MAIN_NAME}")
        if problem:
            raise StepFailed(f"`doveconf -n` rejects {CONF_DIR}/{MAIN_NAME}:\n{problem}")
        if ctx.answers.spam.enabled:
            spam_step.compile_scripts(out)

    def functional_checks(self, ctx: Context) -> list[Check]:
        main = f"{CONF_DIR}/{MAIN_NAME}"
        problem = doveconf_problem(main)
        checks = [Check(f"doveconf accepts {main}", problem is None, problem or "")]

        if services.is_running("dovecot"):
            for name in ("auth", "dovecot-lmtp"):
                sock = f"{POSTFIX_PRIVATE}/{name}"
                ok = os.path.exists(sock)
                checks.append(Check(f"Dovecot socket {sock} for Postfix", ok,
                                    "" if ok else f"{sock} is missing: restart Dovecot after Postfix"))
            if ctx.answers.webmail.enabled:
                checks.append(probes.managesieve_check())
        return checks
