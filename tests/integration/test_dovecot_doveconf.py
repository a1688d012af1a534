"""The rendered Dovecot configuration, checked by the real doveconf of both dialects.

2.3 is Debian 12's Dovecot (this machine, when it is Debian 12 with dovecot-core installed; else a
bookworm root); 2.4 is Debian 13's, run from a trixie root with `chroot ROOT doveconf`. A root is
taken from the test-host cache when one there has Dovecot installed, else from mailtui's own cache
(/var/cache/mailtui-dovecot2X-root), built with debootstrap on first use (~35 s). Needs root; when
no root can be found or built the test fails (it does not skip).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from mailtui import paths
from mailtui.model.answers import Answers, Database, Domain, Services, Spam, Tls, Webmail
from mailtui.policy import tls
from mailtui.steps.dovecot import MAIN_NAME, SQL_NAME, DovecotSettings, check_files, render

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chroot into a Debian root)"),
]

TESTHOST_CACHE = Path(os.environ.get("MAILTUI_TESTHOST_CACHE", "/var/cache/mailtui-testhosts"))
RELEASES = {"2.3": ("bookworm", "12"), "2.4": ("trixie", "13")}
OWN_ROOTS = {"2.3": Path("/var/cache/mailtui-dovecot23-root"), "2.4": Path("/var/cache/mailtui-dovecot24-root")}
PACKAGES = "dovecot-core,dovecot-imapd,dovecot-lmtpd,dovecot-mysql,dovecot-pop3d"
SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
PASSWORD = "Zq7xK2mP9wL4vN8rT3yB"


# ---------------------------------------------------------------- finding (or building) a root


def _major(root: Path) -> str:
    try:
        return (root / "etc/debian_version").read_text().strip().split(".")[0]
    except OSError:
        return ""


def _dovecot_version(root: Path) -> str:
    argv = ["dovecot", "--version"] if str(root) == "/" else ["chroot", str(root), "dovecot", "--version"]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except FileNotFoundError:
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def _usable(root: Path, dialect: str) -> bool:
    return (root / "usr/bin/doveconf").exists() and _dovecot_version(root).startswith(dialect + ".")


def _mirror() -> str:
    text = SOURCES.read_text() if SOURCES.exists() else ""
    for stanza in text.split("\n\n"):
        uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
        if uris and "security" not in uris.group(1):
            return uris.group(1)
    return "http://deb.debian.org/debian"


def _build(dialect: str, target: Path) -> None:
    release, _ = RELEASES[dialect]
    if not shutil.which("debootstrap"):
        pytest.fail(f"no Dovecot {dialect} root found and debootstrap is not installed to build {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _usable(target, dialect):  # built meanwhile by another test process
            return
        work = Path(tempfile.mkdtemp(prefix=target.name + ".build-", dir=target.parent))
        work.chmod(0o755)  # it becomes the chroot's "/": mkdtemp's 0700 would lock out Dovecot's users
        try:
            result = subprocess.run(
                ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", release, str(work), _mirror()],
                capture_output=True, text=True, timeout=900, check=False,
            )
            if result.returncode != 0 or not _usable(work, dialect):
                tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-20:])
                pytest.fail(f"debootstrap of {release} into {work} failed ({result.returncode}):\n{tail}")
            if target.exists():
                shutil.rmtree(target)
            work.rename(target)
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)


def dovecot_root(dialect: str) -> Path:
    """A directory whose doveconf is Dovecot `dialect`: "/" or a Debian root to chroot into."""
    _, major = RELEASES[dialect]
    if _major(Path("/")) == major and _usable(Path("/"), dialect):
        return Path("/")
    if TESTHOST_CACHE.is_dir():  # the e2e test-host bases (only those with Dovecot installed)
        for candidate in sorted([*TESTHOST_CACHE.glob("*/"), *TESTHOST_CACHE.glob("*/*/")]):
            if _major(candidate) == major and _usable(candidate, dialect):
                return candidate
    own = OWN_ROOTS[dialect]
    if not _usable(own, dialect):
        _build(dialect, own)
    if not _usable(own, dialect):
        pytest.fail(f"{own} does not hold a working Dovecot {dialect}")
    return own


# ---------------------------------------------------------------- fixtures


@dataclass
class Env:
    dialect: str
    root: Path  # "/" or a chroot
    inside: str  # a scratch directory, as seen from inside the root
    conf_dir: str  # an empty configuration directory (no local.conf), inside the root
    cert: str
    key: str

    def host(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def doveconf(self, *args: str) -> subprocess.CompletedProcess[str]:
        prefix = [] if str(self.root) == "/" else ["chroot", str(self.root)]
        return subprocess.run([*prefix, "doveconf", *args], capture_output=True, text=True, timeout=60,
                              check=False)


@pytest.fixture(params=["2.3", "2.4"], scope="module")
def env(request: pytest.FixtureRequest) -> Iterator[Env]:
    dialect: str = request.param
    root = dovecot_root(dialect)
    scratch = Path(tempfile.mkdtemp(prefix="mailtui-dovecot-it-", dir=root / "tmp"))
    try:
        inside = "/" + str(scratch.relative_to(root))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=mail.example.org", "-keyout", str(scratch / "key.pem"),
                        "-out", str(scratch / "cert.pem")], capture_output=True, check=True, timeout=60)
        (scratch / "conf").mkdir()
        yield Env(dialect, root, inside, f"{inside}/conf", f"{inside}/cert.pem", f"{inside}/key.pem")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def settings(env: Env, *, pop3: bool = False, debug: bool = False, log_to_file: bool = False,
             dh: bool = True) -> DovecotSettings:
    a = Answers(hostname="mail.example.org", database=Database(password=PASSWORD),
                domains=[Domain("example.org")], services=Services(pop3=pop3),
                tls=Tls("files", env.cert, env.key),
                # The spam filter's Sieve settings need dovecot-sieve, which these roots lack; the e2e tier
                # proves both dialects' (tests/e2e/test_spam.py: doveconf at the install, delivery into Junk).
                # ManageSieve too (dovecot-managesieved): tests/e2e/test_webmail.py proves both dialects'.
                spam=Spam(enabled=False), webmail=Webmail(enabled=False))
    dh_file = paths.DOVECOT_SHIPPED_DH if (dh and env.dialect == "2.3") else None
    return DovecotSettings.from_answers(a, dialect=env.dialect,  # type: ignore[arg-type]
                                        dh_file=dh_file, log_to_file=log_to_file, debug=debug)


def write_pair(env: Env, s: DovecotSettings, name: str) -> str:
    """Write the rendered pair into the scratch dir (as mailtui would into /etc/dovecot); return
    the main file's path inside the root."""
    files = render(replace(s, conf_dir=f"{env.inside}/{name}"))
    d = env.host(f"{env.inside}/{name}")
    d.mkdir()
    (d / MAIN_NAME).write_text(files.main)
    (d / SQL_NAME).touch(mode=0o600)
    (d / SQL_NAME).write_text(files.sql)
    return f"{env.inside}/{name}/{MAIN_NAME}"


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("pop3,debug,log_to_file", [
    (False, False, False), (True, True, True), (True, False, True), (False, True, False),
])
def test_real_doveconf_accepts_the_rendered_files(env: Env, pop3: bool, debug: bool, log_to_file: bool) -> None:
    files = render(settings(env, pop3=pop3, debug=debug, log_to_file=log_to_file))
    assert check_files(files, conf_dir=env.conf_dir, root=str(env.root)) is None


def test_dh_file_in_both_dialects(env: Env) -> None:
    s = replace(settings(env), dh_file=paths.DOVECOT_SHIPPED_DH)  # optional in 2.4, still valid
    assert check_files(render(s), conf_dir=env.conf_dir, root=str(env.root)) is None


def test_settings_take_effect(env: Env) -> None:
    main = write_pair(env, settings(env, pop3=True), "effect")

    def value(*args: str) -> str:
        result = env.doveconf("-c", main, *args)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert value("ssl_min_protocol") == "ssl_min_protocol = TLSv1.2"
    assert value("ssl_cipher_list") == f"ssl_cipher_list = {tls.strong_cipherlist()}"
    assert value("ssl") == "ssl = required"
    assert value("protocols").replace("protocols = ", "").split() == ["imap", "lmtp", "pop3"]
    # LMTP keeps the domain (Debian 13's own 20-lmtp.conf would strip it).
    want = "%Lu" if env.dialect == "2.3" else "%{user | lower}"
    assert value("-f", "protocol=lmtp", "auth_username_format") == f"auth_username_format = {want}"
    cleartext = "disable_plaintext_auth = yes" if env.dialect == "2.3" else "auth_allow_cleartext = no"
    assert value(cleartext.split(" ")[0]) == cleartext
    if env.dialect == "2.4":
        assert value("mail_driver") == "mail_driver = maildir"
        dump = value("-n")  # the included file was read: its named filter is in the effective config
        assert re.search(r"^mysql 127\.0\.0\.1 \{\n(  .*\n)*?  dbname = mailserver\n", dump, re.M), dump
        assert value("sql_driver") == "sql_driver = mysql"


def test_doveconf_output_hides_the_password(env: Env) -> None:
    main = write_pair(env, settings(env), "hidden")
    for args in (["-n"], ["-a"]):
        result = env.doveconf("-c", main, *args)
        assert result.returncode == 0, result.stderr
        assert PASSWORD not in result.stdout + result.stderr
    if env.dialect == "2.4":
        assert "password = # hidden, use -P to show it" in env.doveconf("-c", main, "-n").stdout


def test_missing_certificate_is_reported(env: Env) -> None:
    s = replace(settings(env), cert_file=f"{env.inside}/nonexistent.pem")
    problem = check_files(render(s), conf_dir=env.conf_dir, root=str(env.root))
    assert problem is not None
    assert "nonexistent.pem" in problem
    assert "mailtui-dovecot-" not in problem.replace(env.inside, "")  # the scratch copy is not named


def test_broken_local_conf_is_reported(env: Env) -> None:
    local = env.host(f"{env.conf_dir}/local.conf")
    local.write_text("this_is_no_dovecot_setting = 1\n")
    try:
        problem = check_files(render(settings(env)), conf_dir=env.conf_dir, root=str(env.root))
    finally:
        local.unlink()
    assert problem is not None
    assert "this_is_no_dovecot_setting" in problem
    assert f"{env.conf_dir}/local.conf" in problem  # named where the operator will look for it


def test_local_conf_overrides_win(env: Env) -> None:
    d = f"{env.inside}/override"
    main = write_pair(env, settings(env), "override")
    env.host(f"{d}/local.conf").write_text("auth_cache_size = 20M\n")
    result = env.doveconf("-c", main, "auth_cache_size")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().replace(" ", "") == "auth_cache_size=20M"
