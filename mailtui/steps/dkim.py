"""DKIM signing and inbound authentication results: rspamd as Postfix's milter ([dkim] in the answers).

rspamd's proxy worker (policy/milter.py) sees every message Postfix receives or makes:
- it signs mail submitted by a logged-in user (587/465) and mail made on this machine (bounces, the verify
  probe, `sendmail`) with the key of the From domain's *signing* selector; mail merely relayed in on 25 is
  never signed: `local_addrs` is loopback only (Debian's default also counts the private ranges as local,
  so a sender on a LAN would have had its mail signed);
- it checks SPF, DKIM and DMARC of incoming mail and writes the result into an `Authentication-Results`
  header; every `Authentication-Results` header the message already carried is removed first (a forged one
  naming this host would otherwise be believed);
- it takes no spam action here (all actions off: headers only). The spam filter is a later step.

Keys (model/dkim.py): per domain a signing and a standby selector from the start, RSA-2048, one file each
in /var/lib/rspamd/dkim, owned by _rspamd and 0600. Only the signing selector is listed in
local.d/dkim_signing.conf (rspamd signs with every selector it lists); the standby is published in DNS and
waits for `mailtui dkim rotate`. Which selector plays which role is kept in paths.DKIM_STATE; a key file is
made once and never replaced by an install.

Test profile: every remote call rspamd makes by default (fuzzy storage, DNS block lists, map downloads) is
switched off (REMOTE_MODULES). And .test counts as a public suffix (TEST_SUFFIXES): rspamd reduces a name to
its registered domain with the public suffix list (use_esld: a bounce from MAILER-DAEMON@mail.example.com is
signed with example.com's key; DMARC's organizational domain), and that list has no .test.
"""

from __future__ import annotations

import datetime
import re
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mailtui import paths
from mailtui.errors import MailtuiError, StepFailed
from mailtui.events import StepEmitter
from mailtui.model import dkim
from mailtui.model.answers import Answers
from mailtui.model.dkim import DkimKey, DkimState
from mailtui.policy import milter, resolver, spam
from mailtui.report import Change, Check
from mailtui.stack import probes
from mailtui.steps import spam as spam_step
from mailtui.steps.base import Context, Resource, Step, in_use
from mailtui.steps.resources import AbsentFileResource, DirectoryResource, FileResource
from mailtui.system import files, services
from mailtui.system.commands import run

SERVICE = "rspamd"
RSPAMD_USER = "_rspamd"
LOCAL_D = milter.RSPAMD_LOCAL_D
SIGNING_CONF = LOCAL_D / "dkim_signing.conf"
MILTER_HEADERS_CONF = LOCAL_D / "milter_headers.conf"
OPTIONS_INC = LOCAL_D / "options.inc"
# Test profile: rspamd's public suffix list (options' url_tld; Debian's is the publicsuffix package's).
TEST_SUFFIXES = LOCAL_D / "test_public_suffixes.dat"
# The modules that call out by default (REFERENCE-stack §1): switched off in the test profile.
REMOTE_MODULES = ("fuzzy_check", "rbl", "asn", "phishing", "multimap", "whitelist", "mime_types", "mid")
START_TIMEOUT = 60.0
HEADER = "# Written by mailtui ([dkim] in the answers); replaced on every install.\n"
OFF_WHY = "DKIM and the spam filter are off in the answers: [dkim] and [spam] enabled = false"
TEST_ONLY_WHY = "only the test profile switches rspamd's remote calls off"


def remote_module_file(module: str) -> Path:
    return LOCAL_D / f"{module}.conf"


# ---------------------------------------------------------------- the key state


def load_state(path: Path | None = None) -> DkimState:
    """The saved selectors (none yet: an empty state). A file that cannot be read stops the install."""
    path = path or paths.DKIM_STATE
    text = files.read_text(path)
    if text is None:
        return DkimState()
    try:
        return DkimState.from_json(text)
    except dkim.DkimStateError as exc:
        raise MailtuiError(f"{path}: {exc} (restore it from {paths.BACKUPS_DIR}, or remove it to make new "
                           "keys)") from None


def signed_domains(answers: Answers, state: DkimState) -> list[str]:
    """The answers' domains, and those added since (`mailtui domain add`, the dashboard), which the state
    lists: `domain remove` takes a domain out of it (ops/dkim.py)."""
    return list(dict.fromkeys([*answers.domain_names, *state.domains()]))


def wanted_state(answers: Answers, current: DkimState, today: str | None = None) -> DkimState:
    """The saved state with a signing and a standby key for every signed domain."""
    today = today or datetime.date.today().isoformat()
    state = current
    for domain in signed_domains(answers, current):
        state = dkim.add_domain(state, domain, today)
    return state


def signing_keys(answers: Answers, state: DkimState) -> list[DkimKey]:
    return [k for d in signed_domains(answers, state) if (k := state.signing(d)) is not None]


def live_keys(answers: Answers, state: DkimState) -> list[DkimKey]:
    """The keys rspamd signs with or that wait (signing and standby) of every signed domain."""
    return [k for d in signed_domains(answers, state) for k in state.of(d) if k.role != "retired"]


def public_key(key_file: str | Path) -> str | None:
    """The base64 public key (a DKIM record's p=) of a private key file; None if it cannot be read."""
    result = run(["openssl", "pkey", "-in", str(key_file), "-pubout"], check=False, timeout=30)
    if not result.ok:
        return None
    match = re.search(r"-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----", result.output, re.S)
    return dkim.public_key_base64(match.group(0)) if match else None


# ---------------------------------------------------------------- rendering


def render_signing(answers: Answers, state: DkimState) -> str:
    lines = [
        HEADER.rstrip("\n"),
        "# Only each domain's signing selector is listed: rspamd signs with every selector listed here. The",
        "# standby selector of each domain (published, idle) and retired ones are in " + str(paths.DKIM_STATE) + ".",
        "enabled = true;",
        "sign_authenticated = true;  # mail submitted on 587/465 after login",
        "sign_local = true;  # mail made on this machine (local_addrs in options.inc: loopback only)",
        "sign_inbound = false;",
        'use_domain = "header";  # the From domain\'s key',
        "allow_username_mismatch = false;  # a login signs only for its own domain",
        "try_fallback = false;  # a domain without a key here is not signed",
        "domain {",
    ]
    for key in signing_keys(answers, state):
        lines += [
            f"  {key.domain} {{",
            f'    selectors = [ {{ path = "{key.path}"; selector = "{key.selector}"; }} ];',
            "  }",
        ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_signing_off() -> str:
    return HEADER + "# DKIM is off in the answers ([dkim]): rspamd runs for the spam filter and signs nothing.\n" \
        "enabled = false;\n"


def render_milter_headers(spam_filter: bool = False) -> str:
    text = HEADER + (
        "# SPF, DKIM and DMARC results of incoming mail, in an Authentication-Results header naming this host.\n"
        "# remove = 0: every Authentication-Results header the message already carries is deleted first, so a\n"
        "# forged one cannot pass for this host's verdict.\n")
    routines = {"authentication-results": '    header = "Authentication-Results";\n    remove = 0;\n'}
    if spam_filter:
        text += ("# The spam filter ([spam]): X-Spam-Status (yes/no and the score) on every message from outside, "
                 "and\n# X-Spamd-Result (the rules that scored); forged copies of both are deleted first.\n")
        routines |= {"x-spam-status": "    remove = 0;\n", "x-spamd-result": "    remove = 0;\n"}
    return (text + "use = [" + ", ".join(f'"{name}"' for name in routines) + "];\nroutines {\n"
            + "".join(f"  {name} {{\n{body}  }}\n" for name, body in routines.items()) + "}\n")


def render_options(test_profile: bool = False, own_resolver: bool = False) -> str:
    text = HEADER + (
        "# Only this machine counts as local: mail from it is signed (sign_local), and mail from anywhere\n"
        "# else - a LAN included - is checked like any other (Debian's default also counts the private ranges).\n"
        'local_addrs = ["127.0.0.0/8", "::1"];\n'
    )
    if own_resolver:
        text += ("# The spam filter's lookups go to mailtui's own resolver (unbound, policy/resolver.py).\n"
                 f'dns {{\n  nameserver = ["{resolver.ADDRESS}:{resolver.PORT}"];\n}}\n')
    if test_profile:
        text += (f"# Test profile: the test network's names end in .test, a public suffix in {TEST_SUFFIXES.name}.\n"
                 f'url_tld = "{TEST_SUFFIXES}";\n')
    return text


def render_test_suffixes() -> str:
    """The public suffix list of the test profile: .test alone (every name on the test network is under it), so
    rspamd finds mail.example.test's registered domain, example.test, as it finds example.com's for
    mail.example.com with the real list."""
    return "// " + HEADER[2:] + "// Test profile: every name of the test network ends in .test.\ntest\n"


def render_module_off(module: str) -> str:
    return HEADER + f"# Test profile: {module} calls out to the Internet by default; switched off.\nenabled = false;\n"


# ---------------------------------------------------------------- the key files


@dataclass
class DkimKeyResource:
    """One selector's private key: made once (RSA-2048) and never replaced; owned by rspamd, 0600."""

    key: DkimKey

    kind = "file"

    @property
    def target(self) -> str:
        return self.key.path

    def describe(self) -> str:
        return f"DKIM key {self.key.selector} of {self.key.domain} ({self.key.path})"

    def pending(self, ctx: Context) -> Change | None:
        state = files.inspect(Path(self.key.path))
        if not state.exists:
            return Change("file", self.key.path,
                          f"create the DKIM key {self.key.selector} of {self.key.domain} ({self.key.role}, "
                          f"RSA-{self.key.bits}, {RSPAMD_USER} 0600)", "(holds a secret: content not shown)")
        if (state.owner, state.mode) != (RSPAMD_USER, 0o600):
            return Change("file", self.key.path, f"set {self.key.path} to {RSPAMD_USER}:{RSPAMD_USER} 0600 (now "
                          f"{state.owner}:{state.group} {state.mode:04o})")
        return None

    def apply(self, ctx: Context, out: StepEmitter) -> None:
        path = Path(self.key.path)
        if path.exists():
            files.set_owner_mode(path, owner=RSPAMD_USER, group=RSPAMD_USER, mode=0o600)
            return
        result = run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{self.key.bits}"],
                     timeout=120)
        match = re.search(r"-----BEGIN PRIVATE KEY-----.*?-----END PRIVATE KEY-----\n?", result.output, re.S)
        if match is None:
            raise StepFailed(f"openssl made no private key for {self.key.domain} ({self.key.selector})")
        files.write_file(path, match.group(0), owner=RSPAMD_USER, group=RSPAMD_USER, mode=0o600)


Resource.register(DkimKeyResource)


# ---------------------------------------------------------------- the step


def milter_listening(timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((milter.HOST, milter.PORT), timeout=timeout):
            return True
    except OSError:
        return False


def proxy_workers() -> set[int]:
    """The PIDs of rspamd's milter (proxy) workers: children of its main process named "rspamd_proxy"."""
    main = services.main_pid(SERVICE)
    found: set[int] = set()
    if main is None:
        return found
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or services.parent_pid(int(entry.name)) != main:
            continue
        try:
            if b"rspamd_proxy" in (entry / "cmdline").read_bytes():
                found.add(int(entry.name))
        except OSError:  # it ended meanwhile
            continue
    return found


def mailtui_files() -> list[Path]:
    """Every rspamd file mailtui may have written (whatever the answers say now)."""
    return [SIGNING_CONF, MILTER_HEADERS_CONF, OPTIONS_INC, TEST_SUFFIXES, *spam_step.rspamd_files(),
            *map(remote_module_file, REMOTE_MODULES)]


class DkimStep(Step):
    name = "dkim"
    title = "rspamd (DKIM signing, spam scores)"
    why = ("Receivers such as Gmail file or refuse mail that carries no DKIM signature. rspamd signs your users' "
           "mail with a key per domain, writes SPF/DKIM/DMARC results into incoming mail's headers and, with the "
           "spam filter on, scores every message.")
    services = (SERVICE,)

    def enabled(self, ctx: Context) -> bool:
        # Switched off after an install, the step removes mailtui's rspamd files (the keys stay) and stops
        # rspamd — also on the run after one killed between the two (the state file says mailtui set it up).
        return (milter.wanted(ctx.answers) or any(p.exists() for p in mailtui_files())
                or (paths.DKIM_STATE.exists() and in_use(SERVICE)))

    def feature_on(self, ctx: Context) -> bool:
        return milter.wanted(ctx.answers)

    def resources(self, ctx: Context) -> Sequence[Resource]:
        a = ctx.answers
        if not milter.wanted(a):
            return [AbsentFileResource(str(p), OFF_WHY) for p in mailtui_files()]
        test = a.profile == "test"
        res: list[Resource] = []
        if a.dkim.enabled:
            state = wanted_state(a, load_state())
            res.append(DirectoryResource(dkim.KEY_DIR, owner=RSPAMD_USER, group=RSPAMD_USER, mode=0o700))
            res += [DkimKeyResource(k) for k in live_keys(a, state)]
            res += [FileResource(str(paths.DKIM_STATE), state.to_json(), mode=0o600),
                    FileResource(str(SIGNING_CONF), render_signing(a, state))]
        else:
            res.append(FileResource(str(SIGNING_CONF), render_signing_off()))
        res += [
            FileResource(str(MILTER_HEADERS_CONF), render_milter_headers(a.spam.enabled)),
            FileResource(str(OPTIONS_INC), render_options(test, own_resolver=a.spam.enabled)),
            FileResource(str(TEST_SUFFIXES), render_test_suffixes()) if test
            else AbsentFileResource(str(TEST_SUFFIXES), TEST_ONLY_WHY),
        ]
        for module in REMOTE_MODULES:
            path = str(remote_module_file(module))
            res.append(FileResource(path, render_module_off(module)) if test
                       else AbsentFileResource(path, TEST_ONLY_WHY))
        password = spam_step.redis_password(ctx) if a.spam.enabled else ""
        res += spam_step.rspamd_resources(a, password)
        return res

    def after_apply(self, ctx: Context, out: StepEmitter, changed: bool) -> None:
        if not milter.wanted(ctx.answers):
            return
        result = run(["rspamadm", "configtest"], check=False, timeout=120)
        if not result.ok:
            raise StepFailed("rspamd does not accept its configuration (rspamadm configtest):\n"
                             + "\n".join(result.output.strip().splitlines()[-10:]))

    def ensure_services(self, ctx: Context, out: StepEmitter, changed: bool) -> None:
        if not milter.wanted(ctx.answers):
            super().ensure_services(ctx, out, changed)  # stops rspamd (unused_services)
            return
        if changed and services.is_running(SERVICE):
            # A reload, not a restart: rspamd's main process keeps its sockets (Postfix's milter never finds
            # nobody listening) and starts new workers on the new configuration. A restart right after apt
            # started rspamd (still compiling its regular expressions) took 12-13 s to listen again.
            out.line("reloading rspamd (new workers on the new configuration)")
            before = proxy_workers()
            result = services.control(SERVICE, "reload", check=False)
            deadline = time.monotonic() + START_TIMEOUT
            while not (proxy_workers() - before) and time.monotonic() < deadline:
                time.sleep(0.1)
            if not (proxy_workers() - before):
                raise StepFailed(f"rspamd started no new milter worker within {START_TIMEOUT:.0f} s of a reload:\n"
                                 f"{result.output.strip()}\nsee {spam.RSPAMD_LOG}")
            changed = False
        super().ensure_services(ctx, out, changed)
        deadline = time.monotonic() + START_TIMEOUT
        while not milter_listening() and time.monotonic() < deadline:
            time.sleep(0.2)
        if not milter_listening():
            raise StepFailed(f"rspamd runs but does not listen on {milter.HOST}:{milter.PORT} (its milter) "
                             f"within {START_TIMEOUT:.0f} s: see {spam.RSPAMD_LOG}")

    def functional_checks(self, ctx: Context) -> list[Check]:
        if not milter.wanted(ctx.answers):
            return []
        listening = milter_listening()
        checks = [Check(f"rspamd milter answers on {milter.HOST}:{milter.PORT}", listening,
                        "" if listening else "Postfix passes mail on unchecked: start rspamd")]
        if not ctx.answers.dkim.enabled:
            return checks
        for key in live_keys(ctx.answers, load_state()):
            checks.append(probes.private_path_check(key.path, f"DKIM key ({key.domain}, {key.selector})",
                                                    owner=RSPAMD_USER))
        return checks

