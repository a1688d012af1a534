"""The spam filter ([spam] in the answers): Redis for rspamd's statistics and greylisting, and the Sieve script
that files spam into Junk, and the two scripts and the program through which moving a message into Junk or out
of it teaches rspamd (IMAPSieve). rspamd's own files for the filter are rendered here and written by the rspamd
step (steps/dkim.py), which owns rspamd and reloads it once for both; Dovecot's settings that run the
script are in its own file (steps/dovecot.py). The facts they share are in policy/spam.py.

Redis: Debian's redis-server, bound to loopback by Debian's own redis.conf (`bind 127.0.0.1 -::1`); mailtui
adds one line to that file, `include /etc/redis/mailtui.conf`, and keeps its own settings there: a password
(made once, kept on every later install; rspamd has it in local.d/redis.conf, readable by root and rspamd
only) and a memory cap.

Scores (the answers' thresholds, actions.conf): greylist, add header (X-Spam: Yes -> Junk), reject. Greylisting
takes a sender rspamd has not seen at a greylist score: 4xx, and its retry after the delay (policy/spam.py) is
accepted; mail from logged-in users (587/465) and from this machine is never greylisted (rspamd's greylist
module skips both). Off in the answers (`greylisting = false`), no message is deferred.

Test profile: a rule rspamd scores by a header the test sends (X-Mailtui-Test-Score: N adds N), so tests
reach each threshold exactly; never written outside the test profile.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mailtui.events import StepEmitter
from mailtui.model import passwords
from mailtui.model.answers import Answers
from mailtui.policy import milter, spam
from mailtui.report import Change, Check
from mailtui.stack import probes
from mailtui.steps.base import Context, Resource, Step
from mailtui.steps.resources import AbsentFileResource, DirectoryResource, FileResource
from mailtui.system import files
from mailtui.system.commands import run

REDIS_SERVICE = "redis-server"
REDIS_CONF = Path("/etc/redis/redis.conf")  # Debian's
REDIS_INCLUDE = Path("/etc/redis/mailtui.conf")
INCLUDE_LINE = f"include {REDIS_INCLUDE}"
REDIS_MAXMEMORY = "128mb"
RSPAMD_LOCAL_D = milter.RSPAMD_LOCAL_D
RSPAMD_USER = "_rspamd"
ACTIONS_CONF = RSPAMD_LOCAL_D / "actions.conf"
REDIS_RSPAMD = RSPAMD_LOCAL_D / "redis.conf"
GREYLIST_CONF = RSPAMD_LOCAL_D / "greylist.conf"
RATELIMIT_CONF = RSPAMD_LOCAL_D / "ratelimit.conf"
TEST_RULE = RSPAMD_LOCAL_D / "rspamd.lua"  # rspamd's rules/rspamd.lua runs this file when it exists
TEST_SCORE_HEADER = "X-Mailtui-Test-Score"
HEADER = "# Written by mailtui ([spam] in the answers); replaced on every install.\n"
OFF_WHY = "the spam filter is off in the answers: [spam] enabled = false"
TEST_ONLY_WHY = "only the test profile scores by a test header"


# ---------------------------------------------------------------- rspamd's files (written by the rspamd step)


def render_actions(answers: Answers) -> str:
    s = answers.spam
    if not s.enabled:
        return HEADER + (
            "# The spam filter is off: rspamd takes no action on mail (it signs and writes headers only).\n"
            "reject = null;\nadd_header = null;\nrewrite_subject = null;\ngreylist = null;\n")
    greylist = f"{s.greylist:g}" if s.greylisting else "null"
    return HEADER + (
        "# Scores from [spam] in the answers: the highest threshold a message reaches decides.\n"
        f"reject = {s.reject:g};  # refused: 5xx at the end of DATA\n"
        f"add_header = {s.add_header:g};  # delivered into Junk (X-Spam: Yes, a Sieve script files it)\n"
        "rewrite_subject = null;\n"
        f"greylist = {greylist};  # deferred once (4xx) for a sender not seen before\n")


def render_redis_for_rspamd(password: str) -> str:
    return HEADER + (
        "# Redis keeps rspamd's statistics (learning) and greylisting. Holds the password: root and rspamd only.\n"
        f'servers = "{spam.REDIS_HOST}:{spam.REDIS_PORT}";\n'
        f'password = "{password}";\n')


def render_greylist(answers: Answers) -> str:
    delay = spam.GREYLIST_DELAY["test" if answers.profile == "test" else "production"]
    return HEADER + (
        f"enabled = {'true' if answers.spam.greylisting else 'false'};\n"
        f"timeout = {delay};  # a greylisted sender's retry is accepted after this long\n")


def render_ratelimit(answers: Answers) -> str:
    limit = answers.spam.hourly_limit
    text = HEADER + (
        "# The limit is exact: rspamd's default lets a user's bucket grow with every message it finds clean\n"
        "# (up to tenfold, rspamd 3.4); here it never grows or shrinks.\n"
        "ham_factor_rate = 1.0;\nspam_factor_rate = 1.0;\nham_factor_burst = 1.0;\nspam_factor_burst = 1.0;\n"
        "max_rate_mult = 1;\nmax_bucket_mult = 1;\n")
    if not limit:
        return text + "# [spam] hourly_limit = 0: no limit on what a logged-in user sends.\nrates {\n}\n"
    return text + (
        f"# A logged-in user (587/465) may send to {limit} recipients an hour ([spam] hourly_limit): the bucket\n"
        "# holds that many and refills at that rate; over it, rspamd answers \"soft reject\" and Postfix defers the\n"
        "# message (451 4.7.1). Mail from outside and from this machine has no user: not counted.\n"
        "rates {\n"
        "  user = {\n"
        f'    bucket = {{ burst = {limit}; rate = "{limit} / 1h"; }}\n'
        "  }\n"
        "}\n")


def render_test_rule() -> str:
    return ("-- " + HEADER[2:] + "-- Test profile only: a message carrying the header adds its number to the score,\n"
            "-- so tests reach each threshold of [spam] exactly.\n"
            "rspamd_config.MAILTUI_TEST_SCORE = {\n"
            "  callback = function(task)\n"
            f"    local value = task:get_header('{TEST_SCORE_HEADER}')\n"
            "    local score = value and tonumber(value)\n"
            "    if score then return true, score end\n"
            "    return false\n"
            "  end,\n"
            "  score = 1.0,\n"
            "  description = 'mailtui test profile: the score the test asked for',\n"
            "  group = 'mailtui_test',\n"
            "}\n")


def rspamd_resources(answers: Answers, password: str) -> list[Resource]:
    """rspamd's files of the spam filter, for the step that owns rspamd (steps/dkim.py)."""
    res: list[Resource] = [FileResource(str(ACTIONS_CONF), render_actions(answers))]
    if not answers.spam.enabled:
        return [*res, *(AbsentFileResource(str(p), OFF_WHY) for p in (REDIS_RSPAMD, GREYLIST_CONF, RATELIMIT_CONF,
                                                                           TEST_RULE))]
    res += [
        FileResource(str(REDIS_RSPAMD), render_redis_for_rspamd(password), owner="root", group=RSPAMD_USER,
                     mode=0o640, secret=True),
        FileResource(str(GREYLIST_CONF), render_greylist(answers)),
        FileResource(str(RATELIMIT_CONF), render_ratelimit(answers)),
        FileResource(str(TEST_RULE), render_test_rule()) if answers.profile == "test"
        else AbsentFileResource(str(TEST_RULE), TEST_ONLY_WHY),
    ]
    return res


def rspamd_files() -> list[Path]:
    return [ACTIONS_CONF, REDIS_RSPAMD, GREYLIST_CONF, RATELIMIT_CONF, TEST_RULE]


# ---------------------------------------------------------------- Redis


def saved_password() -> str | None:
    text = files.read_text(REDIS_INCLUDE) or ""
    match = re.search(r"^requirepass\s+(\S+)\s*$", text, re.M)
    return match.group(1) if match else None


def redis_password(ctx: Context) -> str:
    """The password Redis asks for: the one saved in REDIS_INCLUDE, or a new one (the same for every step of
    this run)."""
    key = "spam.redis_password"
    if key not in ctx.facts:
        ctx.facts[key] = saved_password() or passwords.generate_password(32)
    return str(ctx.facts[key])


def render_redis(password: str) -> str:
    return HEADER + (
        f"# Included from the end of {REDIS_CONF} (Debian's file binds 127.0.0.1 and ::1 only).\n"
        f"requirepass {password}\n"
        f"maxmemory {REDIS_MAXMEMORY}\n"
        "maxmemory-policy volatile-ttl\n")


@dataclass
class IncludeLineResource:
    """One line in a file mailtui does not own (Debian's redis.conf): appended once, the rest left alone."""

    path: str
    line: str

    kind = "line"

    @property
    def target(self) -> str:
        return self.path

    def describe(self) -> str:
        return f"{self.path} includes {self.line.split()[-1]}"

    def pending(self, ctx: Context) -> Change | None:
        text = files.read_text(Path(self.path))
        if text is not None and self.line in (ln.strip() for ln in text.splitlines()):
            return None
        return Change("line", self.path, f"add `{self.line}` to the end of {self.path}", f"+{self.line}")

    def apply(self, ctx: Context, out: StepEmitter) -> None:
        path = Path(self.path)
        text = files.read_text(path) or ""
        state = files.inspect(path)
        text = (text if not text or text.endswith("\n") else text + "\n") + self.line + "\n"
        files.write_file(path, text, owner=state.owner or "root", group=state.group or "root",
                         mode=state.mode if state.exists else 0o640)


Resource.register(IncludeLineResource)


def redis_answers(password: str | None, timeout: float = 2.0) -> str:
    """What Redis on loopback says to PING after AUTH with `password` (None: no AUTH): "+PONG" when it lets
    the client in, its error otherwise ("-NOAUTH ..." without a password it asks for), or why nothing answered."""
    try:
        with socket.create_connection((spam.REDIS_HOST, spam.REDIS_PORT), timeout=timeout) as sock:
            request = (f"AUTH {password}\r\n" if password is not None else "") + "PING\r\n"
            sock.sendall(request.encode())
            data = b""
            want = 2 if password is not None else 1
            while data.count(b"\r\n") < want:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        return f"no answer on {spam.REDIS_HOST}:{spam.REDIS_PORT} ({exc.strerror or exc})"
    lines = data.decode(errors="replace").splitlines()
    return lines[-1] if lines else "no answer"


# ---------------------------------------------------------------- the Sieve scripts


def compiled(script: str) -> str:
    """Where sievec puts a script's binary (next to it)."""
    return script.removesuffix(".sieve") + ".svbin"


def compile_scripts(out: StepEmitter) -> None:
    """Compile the filter's Sieve scripts that have no up-to-date binary. Run by the Dovecot step once its
    configuration names the plugins they need (pipe, IMAPSieve), so that no delivery or IMAP move has to
    compile one (Dovecot could not save the binary in this root-owned directory, and would compile on every
    use)."""
    for script in spam.sieve_scripts():
        binary = Path(compiled(script))
        if binary.exists() and binary.stat().st_mtime >= Path(script).stat().st_mtime:
            continue
        out.line(f"compiling {script} (sievec)")
        # sievec loads no Sieve plugin of the configuration and compiles as for a user's own script, to which
        # the global extensions are not offered: -P loads the plugins (the pipe; imapsieve, which Dovecot 2.4's
        # sievec does not know without it), -x offers the pipe (Dovecot runs these scripts as global ones, for
        # which sieve_global_extensions offers it).
        run(["sievec", "-P", "sieve_extprograms", "-P", "sieve_imapsieve", "-x", "+vnd.dovecot.pipe", script],
            timeout=60)


# ---------------------------------------------------------------- the step


class SpamStep(Step):
    name = "spam"
    title = "Spam filter (rspamd, Redis, Sieve)"
    why = ("rspamd scores every message: above the thresholds it defers a new sender once (greylisting), "
           "files the message into Junk, or refuses it. Redis keeps what it learns.")
    services = (REDIS_SERVICE,)

    def enabled(self, ctx: Context) -> bool:
        return ctx.answers.spam.enabled or REDIS_INCLUDE.exists() or Path(spam.JUNK_SIEVE).exists()

    def feature_on(self, ctx: Context) -> bool:
        return ctx.answers.spam.enabled

    def resources(self, ctx: Context) -> Sequence[Resource]:
        learn = spam.LEARN_PROGRAM_PATH
        if not ctx.answers.spam.enabled:
            # Redis is stopped (unused_services); its data, the include line and the file it names stay (Redis
            # would not start with the line and without the file).
            return [AbsentFileResource(path, OFF_WHY) for script in spam.sieve_scripts()
                    for path in (script, compiled(script))] + [AbsentFileResource(learn, OFF_WHY)]
        password = redis_password(ctx)
        return [
            FileResource(str(REDIS_INCLUDE), render_redis(password), owner="redis", group="redis", mode=0o640,
                         secret=True),
            IncludeLineResource(str(REDIS_CONF), INCLUDE_LINE),
            DirectoryResource(spam.SIEVE_DIR),
            FileResource(spam.JUNK_SIEVE, spam.junk_sieve()),
            FileResource(spam.LEARN_SPAM_SIEVE, spam.learn_spam_sieve()),
            FileResource(spam.LEARN_HAM_SIEVE, spam.learn_ham_sieve()),
            DirectoryResource(spam.SIEVE_PIPE_DIR),
            FileResource(learn, spam.learn_program(), mode=0o755),
        ]

    def functional_checks(self, ctx: Context) -> list[Check]:
        if not ctx.answers.spam.enabled:
            return []
        password = saved_password()
        with_password = redis_answers(password) if password else "no password saved in " + str(REDIS_INCLUDE)
        without = redis_answers(None)
        ok = with_password == "+PONG" and without.startswith("-NOAUTH")
        why = ("" if ok else f"Redis answers {with_password!r} with its password" if with_password != "+PONG"
               else f"Redis lets a client in without the password (it answered {without!r})")
        return [Check(f"Redis answers rspamd on {spam.REDIS_HOST}:{spam.REDIS_PORT}, only with its password", ok,
                      why),
                probes.private_path_check(REDIS_INCLUDE, "Redis password", owner="redis", group_may_read=True),
                probes.private_path_check(REDIS_RSPAMD, "rspamd's Redis password", group_may_read=True)]
