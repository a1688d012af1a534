"""Helpers for the interruption and rollback tests: a cached "packages installed" layer, hosts stacked on
it, snapshots of files inside a host, and the fault-injected install.

The layer is the harness's cached stack layer (th.stack_layer: a test host on which mailtui's packages step
ran — the stack's packages installed by apt, nothing configured, /var/lib/mailtui removed: a machine whose
admin installed the packages). Hosts made with `layered_host(layer)` mount it between the release's cached
base and their own upper dir: a fresh "packages installed" machine in a fraction of a second, so that every
interruption point of the configuration steps gets its own untouched machine.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mailtui import faults
from mailtui.policy import web
from tests.harness import testhost as th

HOSTNAME = "mail.example.test"
SSH_PORT = 2222
SINK_PORT = 2525
ANSWERS_PATH = "/root/answers.toml"
TRACE_PATH = "/root/fault-trace.jsonl"
FAULT, FAULT_TRACE = "MAILTUI_FAULT", "MAILTUI_FAULT_TRACE"
STATE_DIR = "/var/lib/mailtui"
ENV = {"PYTHONPATH": th.MAILTUI_PYTHONPATH}
# The database passwords are given, so that every run writes the same map files: a file's content after
# a kill can then be compared with the versions an uninterrupted run writes.
ANSWERS = f"""
hostname = "{HOSTNAME}"
profile = "test"

[database]
password = "lookup-Fault-Secret-4Rt8"
admin_password = "admin-Fault-Secret-7Hs2"

[outbound]
relayhost = "[127.0.0.1]:{SINK_PORT}"

[firewall]
enable = true

[services]
pop3 = false
submissions = true

[[domains]]
name = "example.test"

[[users]]
email = "alice@example.test"
password = "alice-Fault-Secret-1"

[[aliases]]
source = "postmaster@example.test"
destination = "alice@example.test"

[dkim]
enabled = true

[srs]
enabled = true
"""
# The same install with the webmail (Roundcube on nginx + PHP-FPM, ManageSieve) and the security updates on: the
# reference of the walk over the webmail's steps (test_interrupted_install.py), on the webmail's own packages layer;
# its database passwords given too, as above.
WEBMAIL_ANSWERS = ANSWERS + """
[webmail]
enabled = true
db_password = "roundcube-Fault-Secret-5Wm3"
password_db_password = "passwd-Fault-Secret-8Jk1"

[updates]
enabled = true
"""

# Prints, as JSON, what each given path is (recursively for directories): type, sha256, mode, owner.
# A file holding a line whose value is random per machine (Roundcube's des_key, which Debian's postinst makes and
# mailtui keeps) gets a "masked" sha256 too, with that value replaced.
SNAPSHOT_SCRIPT = r"""
import grp, hashlib, json, os, pwd, re, stat, sys
RANDOM_LINE = re.compile(rb"^(\$config\['des_key'\]\s*=\s*)'[^'\n]*'", re.M)
out = {}
def who(get, number):
    try:
        return get(number)[0]
    except KeyError:
        return str(number)
def one(p):
    try:
        st = os.lstat(p)
    except (FileNotFoundError, NotADirectoryError):
        out[p] = {"type": "absent"}
        return
    meta = {"uid": st.st_uid, "gid": st.st_gid, "mode": stat.S_IMODE(st.st_mode),
            "owner": who(pwd.getpwuid, st.st_uid) + ":" + who(grp.getgrgid, st.st_gid)}
    if stat.S_ISLNK(st.st_mode):
        out[p] = {"type": "symlink", "target": os.readlink(p), "uid": st.st_uid, "gid": st.st_gid,
                  "owner": meta["owner"]}
    elif stat.S_ISREG(st.st_mode):
        with open(p, "rb") as fh:
            data = fh.read()
        lines = hashlib.sha256(b"\n".join(sorted(data.splitlines()))).hexdigest()  # order aside
        out[p] = {"type": "file", "sha256": hashlib.sha256(data).hexdigest(), "lines": lines, **meta}
        masked = RANDOM_LINE.sub(rb"\1<random>", data)
        if masked != data:
            out[p]["masked"] = hashlib.sha256(masked).hexdigest()
    elif stat.S_ISDIR(st.st_mode):
        out[p] = {"type": "dir", **meta}
        for name in sorted(os.listdir(p)):
            one(os.path.join(p, name))
    else:
        out[p] = {"type": "other", **meta}
for p in json.load(sys.stdin):
    one(p)
print(json.dumps(out))
"""


def snapshot(host: th.TestHost, paths: list[str]) -> dict[str, dict[str, Any]]:
    result = host.run(["python3", "-c", SNAPSHOT_SCRIPT], input=json.dumps(paths), timeout=120)
    return json.loads(result.stdout)


def read_trace(host: th.TestHost, path: str = TRACE_PATH) -> list[dict[str, Any]]:
    text = host.run(["cat", path], check=False).stdout
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def install(host: th.TestHost, *args: str, env: dict[str, str] | None = None,
            timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """`mailtui install ARGS --yes` as the operator runs it (the session's SSH port in SSH_CONNECTION)."""
    ssh = {"SSH_CONNECTION": f"{host.runner_ip} 40000 {host.ip} {SSH_PORT}"}
    return host.mailtui("install", *args, "--yes", env={**ENV, **ssh, **(env or {})}, check=False,
                        timeout=timeout)


def install_again(host: th.TestHost) -> tuple[str, subprocess.CompletedProcess[str]]:
    """What an operator does after the install was cut off: `--resume` when mailtui says so (the
    answers were saved), else the same install again."""
    pending = host.run(["test", "-f", f"{STATE_DIR}/install/answers.toml"], check=False).returncode == 0
    if pending:
        return "--resume", install(host, "--resume")
    return "--answers", install(host, "--answers", ANSWERS_PATH)


def check(host: th.TestHost) -> subprocess.CompletedProcess[str]:
    return host.mailtui("check", env=ENV, check=False, timeout=300)


def check_failures(host: th.TestHost) -> list[str]:
    """`mailtui check`'s failing lines (empty: it passes)."""
    result = check(host)
    failed = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("FAIL")]
    if failed or result.returncode == 0:
        return failed
    return [f"exit {result.returncode}: {(result.stdout + result.stderr)[-1500:]}"]


# ---------------------------------------------------------------------------------------- layers


@dataclass
class Layer:
    release: str
    dir: Path  # the layer's root (an upper dir of a host whose packages step ran)
    base: Path  # the base it was made on
    build_seconds: float = 0.0
    originals: dict[str, dict[str, Any]] = field(default_factory=dict)  # snapshot of WATCHED
    packages_trace: list[dict[str, Any]] = field(default_factory=list)  # the packages step's points
    cached: th.Layer | None = None  # the harness's cached layer this is


# What the rollback and interruption tests compare: everything mailtui configures lives here — with the webmail
# also its password-strength driver in Roundcube's own tree, its auth-cache flush plugin and spool, the client
# autoconfiguration and ACME webroots (policy/web.py).
WATCHED = ["/etc", "/var/spool/postfix/private", "/var/mail", "/var/lib/rspamd/dkim",
           os.path.dirname(web.STRENGTH_DRIVER), os.path.dirname(web.FLUSH_PLUGIN_DIR), web.FLUSH_SPOOL, "/var/www"]
# Files whose content is new on every run: made by openssl (a command's output, or a DKIM key mailtui writes
# from openssl's output).
RANDOM_PREFIXES = ("/var/lib/rspamd/dkim/",)


def build_layer(release: str, answers: str = ANSWERS) -> Layer:
    """The release's cached "packages installed" layer for `answers` (th.stack_layer: mailtui's packages step,
    traced, /var/lib/mailtui removed; built once and kept in the cache while nothing it depends on changes),
    with a snapshot of WATCHED on a fresh host stacked on it."""
    began = time.monotonic()
    # The walk's package points need the trace of every package (a fresh machine's packages step): the plain
    # layer is built from the bare base; another (the webmail's) may stand on the core layer.
    cached = th.stack_layer(release, answers, on_core=answers != ANSWERS)
    layer = Layer(release, cached.root, cached.base, cached=cached,
                  packages_trace=cached.meta["results"]["packages_trace"])
    with layered_host(layer) as host:
        layer.originals = snapshot(host, WATCHED)
    layer.build_seconds = time.monotonic() - began
    return layer


def create_layered_host(layer: Layer) -> th.TestHost:
    """th.create_host(), with `layer` stacked on the release's base (which must still be the one the
    layer was made on)."""
    if layer.cached is None:
        raise th.TestHostError(f"layer {layer.dir} is not a cached layer")
    return th.create_host(layer.release, HOSTNAME, layers=[layer.cached])


@contextlib.contextmanager
def layered_host(layer: Layer) -> Iterator[th.TestHost]:
    host = create_layered_host(layer)
    try:
        yield host
    finally:
        host.close()


# `mailtui rollback` through cli.main, also while cli.py does not list the command yet (its parser is
# added to the one cli.build_parser() makes when missing).
ROLLBACK_SHIM = r"""
import argparse, sys
from mailtui.cli import main as cli
from mailtui.cli import rollback as cli_rollback
build = cli.build_parser
def with_rollback():
    parser = build()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "rollback" not in sub.choices:
        cli_rollback.add_parser(sub)
    return parser
cli.build_parser = with_rollback
sys.exit(cli.main(["rollback", *sys.argv[1:]]))
"""


def rollback(host: th.TestHost, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`mailtui rollback ARGS` inside the host."""
    return host.run(["python3", "-c", ROLLBACK_SHIM, *args], env=ENV, check=False, timeout=timeout)


# ------------------------------------------------------------------------- shared per test process

_LAYERS: dict[tuple[str, str], Layer] = {}
_REFERENCES: dict[tuple[str, str], Reference] = {}
_BUILD_LOCK = threading.Lock()


def get_layer(release: str, answers: str = ANSWERS) -> Layer:
    """The release's layer for `answers` (the cached one, with its snapshot), once per test process."""
    key = (release, answers)
    with _BUILD_LOCK:
        if key not in _LAYERS or not _LAYERS[key].dir.is_dir():
            _LAYERS[key] = build_layer(release, answers)
        return _LAYERS[key]


# ------------------------------------------------------------------------------ the reference run


def is_state(path: str) -> bool:
    return path == STATE_DIR or path.startswith(STATE_DIR + "/")


@dataclass
class Reference:
    """One uninterrupted, traced install on a "packages installed" host: its points, and every version
    each file had right after each point (what a kill may leave), and the end result."""

    release: str
    layer: Layer
    trace: list[dict[str, Any]]
    before: dict[str, dict[str, Any]]
    final: dict[str, dict[str, Any]]
    install_seconds: float
    check_seconds: float
    answers: str = ANSWERS  # what the install was given (every walk of this reference gives the same)
    versions: dict[str, set[str | None]] = field(default_factory=dict)
    random: set[str] = field(default_factory=set)  # made by openssl: new content on every run

    def __post_init__(self) -> None:
        for point in self.trace:
            for path, sha in point["files"].items():
                self.versions.setdefault(path, set()).add(sha)
                if point["kind"] == "command" and point["detail"].startswith("openssl ") or \
                        path.startswith(RANDOM_PREFIXES):
                    self.random.add(path)

    @property
    def managed(self) -> list[str]:
        """Files the install changes outside mailtui's own state, in the order first changed."""
        return [p for p in self.versions if not is_state(p)]


@pytest.fixture(scope="module", params=["bookworm", "trixie"])
def reference_fixture(request: pytest.FixtureRequest) -> Reference:
    """The release's Reference (the tests' `ref` fixture)."""
    if os.geteuid() != 0:
        pytest.skip("interruption and rollback tests need root (namespaces, overlayfs, debootstrap)")
    return get_reference(request.param)


def get_reference(release: str, answers: str = ANSWERS) -> Reference:
    key = (release, answers)
    with _BUILD_LOCK:
        if key in _REFERENCES:
            return _REFERENCES[key]
    layer = get_layer(release, answers)
    with layered_host(layer) as host:
        host.write_file(ANSWERS_PATH, answers, mode=0o600)
        before = snapshot(host, [*WATCHED, STATE_DIR])
        began = time.monotonic()
        result = install(host, "--answers", ANSWERS_PATH, env={FAULT_TRACE: TRACE_PATH})
        took = time.monotonic() - began
        assert result.returncode == 0, f"reference install failed:\n{result.stdout[-4000:]}{result.stderr}"
        began = time.monotonic()
        checked = check(host)
        assert checked.returncode == 0, checked.stdout[-4000:]
        ref = Reference(release, layer, read_trace(host), before, snapshot(host, [*WATCHED, STATE_DIR]), took,
                        time.monotonic() - began, answers)
    with _BUILD_LOCK:
        _REFERENCES[key] = ref
    return ref


# ------------------------------------------------------------------------------ what a kill leaves

TEMP = re.compile(r"/\.([^/]+)\.[a-z0-9_]{8}\.mailtui-tmp$")


def temp_files(snap: dict[str, dict[str, Any]]) -> list[str]:
    return sorted(p for p in snap if TEMP.search(p))


def kill_problems(ref: Reference, before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]],
                  trace: list[dict[str, Any]], index_text: str, *, packages: bool = False) -> list[str]:
    """Never half-written: every file the killed run wrote or changed is exactly as its last finished write
    or command left it (its own trace has each one's content right after each point), every other file the
    install manages as it was; a temp file only where the kill came between a write and its rename, holding
    what the write would have put there; the backups consistent (each recorded original is the file as it
    was before the install). With `packages` (a kill in the packages step of a bare machine) a file may also
    be as its package installs it."""
    problems = []
    point = trace[-1]
    expected: dict[str, str | None] = {}
    for step in trace:
        expected.update(step["files"])
    for path in dict.fromkeys([*ref.managed, *expected]):
        if is_state(path):
            continue
        now, was = after.get(path, {"type": "absent"}), before.get(path, {"type": "absent"})
        want = expected[path] if path in expected else was.get("sha256")
        if packages and path not in expected and same_but_random(now, ref.layer.originals.get(path, {})):
            continue
        if now.get("sha256") != want:
            problems.append(f"{path} is not as the last finished write or command left it (half-written?): "
                            f"{now.get('sha256', now['type'])} instead of {want or 'absent'}")
    for temp in temp_files(after):
        target = TEMP.sub(lambda m: "/" + m.group(1), temp)
        if not (point["kind"] == "write-tmp" and point["detail"] == target):
            problems.append(f"temp file {temp} left by a kill at {point['kind']} {point['detail']}")
        elif not is_state(target) and target not in ref.random and \
                after[temp].get("sha256") not in ref.versions.get(target, set()):
            problems.append(f"temp file {temp} does not hold the content the write of {target} was making")
    if index_text:
        try:
            index = json.loads(index_text)
        except ValueError:
            return [*problems, "the backup index is not valid JSON (half-written?)"]
        for path, entry in index.get("paths", {}).items():
            was = before.get(path, {"type": "absent"})
            copy = after.get(f"{STATE_DIR}/backups/original{path}", {"type": "absent"})
            if entry["was"] == "file" and not copy.get("sha256") == entry.get("sha256") == was.get("sha256"):
                problems.append(f"the backup of {path} differs from the file before the install")
            if entry["was"] == "absent" and was["type"] != "absent":
                problems.append(f"{path} is recorded as created by mailtui but existed before")
    return problems


# Postfix's `postconf -e` appends new parameters in the order of its hash table, which differs from run to
# run (measured: two uninterrupted installs, same answers, two orders): main.cf is compared line by line
# regardless of order.
ANY_ORDER = {"/etc/postfix/main.cf"}


def same_but_random(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """The same content, or the same but for a value made at random on each machine (SNAPSHOT_SCRIPT's "masked")."""
    return a.get("sha256") == b.get("sha256") or a.get("masked") is not None and a.get("masked") == b.get("masked")


def final_problems(ref: Reference, final: dict[str, dict[str, Any]], *, fresh: bool = False) -> list[str]:
    """The machine ends as an uninterrupted install leaves it: everything under the watched trees the same
    (content, owner, mode), but the host's own /etc/hosts and the freshly generated key and certificate.
    With `fresh` (the install began on a bare machine, the reference on the packages layer) only the files
    mailtui manages are compared, owners by name: the packages' own files differ from install to install
    (snakeoil keys, aliases.db, the gids of system groups depend on the order dpkg configured them in)."""
    problems = []
    skip = {"/etc/hosts", *ref.random}
    paths = set(ref.managed) if fresh else set(ref.final) | set(final)
    for path in sorted(paths):
        if is_state(path) or path in skip or path.startswith(("/var/spool/postfix/private/", "/var/mail/vhosts/")):
            continue  # mailtui's own state, and what the daemons keep (sockets, the mailboxes the IMAP login made)
        want, got = dict(ref.final.get(path) or {}), dict(final.get(path) or {})
        drop = ["sha256" if path in ANY_ORDER else "lines", *(("uid", "gid") if fresh else ("owner",))]
        if fresh and "masked" in want and "masked" in got:
            drop += ["sha256", "lines"]  # the package's postinst made the random value on each machine
        for key in drop:
            want.pop(key, None)
            got.pop(key, None)
        if want != got:
            problems.append(f"{path}: {got} instead of {want} (as an uninterrupted install leaves it)")
    problems += [f"temp file {t} left after the install finished" for t in temp_files(final)]
    return problems


# ------------------------------------------------------------------------------ walking the points


def spec_of(point: dict[str, Any]) -> str:
    """MAILTUI_FAULT for a traced point: a file write by its number among the writes (write:N, write-tmp:N),
    so that read-only commands an install repeats a varying number of times before it (polls while a
    service starts: more under load) cannot shift it; a command by its overall number (any:N)."""
    if point["kind"] in ("write", "write-tmp"):
        return f"{point['kind']}:{point['index']}"
    return f"any:{point['n']}"



@dataclass
class Outcome:
    point: dict[str, Any]
    spec: str
    problems: list[str]
    seconds: float
    again: str = ""  # --resume or --answers

    def line(self) -> str:
        status = "ok  " if not self.problems else "FAIL"
        return (f"{status} {self.spec:<22} {self.point['kind']:<11} {self.point['detail'][:60]:<60} "
                f"{self.again:<9} {self.seconds:5.1f} s" + "".join(f"\n       - {p}" for p in self.problems))


def norm_detail(text: str) -> str:
    """A point's detail without what differs from run to run (a temp dir's name, apt's status fd)."""
    return re.sub(r"/tmp/mailtui-dovecot-[^/ ]+", "/tmp/…", re.sub(r"Status-Fd=\d+", "Status-Fd=…", text))


def _same_point(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (a["kind"], a["index"], norm_detail(a["detail"])) == (b["kind"], b["index"], norm_detail(b["detail"]))


def _is_the_point(got: dict[str, Any], point: dict[str, Any], spec: str) -> bool:
    """The killed run stopped where the reference's `point` is — or, for a spec that names the point by its
    detail (KIND:TEXT, KIND:=TEXT: a package's unpack on a fresh machine, whose number the reference on a
    layer cannot know), at a point that spec names."""
    plan = faults.parse(spec)
    if plan.match is not None:
        return plan.hits(got["kind"], got["index"], got["n"], got["detail"])
    return _same_point(got, point)


def walk_point(ref: Reference, point: dict[str, Any], spec: str, *, fresh: bool = False,
               then_rollback: bool = False) -> Outcome:
    """Kill the install at `spec` on a fresh host ("packages installed", or with fresh=True a bare base with
    systemd, like the layer),
    check what the kill left, then either run the install again (it must finish and `mailtui check` pass,
    ending as an uninterrupted install does) or, with then_rollback, roll back (every file as before)."""
    began = time.monotonic()
    problems: list[str] = []
    again = ""
    hosts = (th.test_host(ref.release, hostname=HOSTNAME, layers=[th.systemd_layer(ref.release)]) if fresh
             else layered_host(ref.layer))
    with hosts as host:
        host.write_file(ANSWERS_PATH, ref.answers, mode=0o600)
        before = snapshot(host, WATCHED)
        killed = install(host, "--answers", ANSWERS_PATH, env={FAULT: spec, FAULT_TRACE: TRACE_PATH})
        trace = read_trace(host)
        if not trace or (killed.returncode == 0 and not _is_the_point(trace[-1], point, spec)):
            said = (killed.stdout + killed.stderr)[-1500:]
            return Outcome(point, spec, [f"the install was not interrupted (exit {killed.returncode}): {said}"],
                           time.monotonic() - began)
        # (After its last point the install has said "done": the CLI then reports success, rightly.)
        if killed.returncode != 0 and "interrupted" not in killed.stderr + killed.stdout:
            problems.append(f"the CLI did not say the install was interrupted: {killed.stderr[-500:]}")
        if not _is_the_point(trace[-1], point, spec):
            problems.append(f"killed at {trace[-1]['kind']} {trace[-1]['index']} {trace[-1]['detail'][:80]!r}, "
                            f"not at the reference point {point['kind']} {point['index']} ({spec})")
        if host.run(["pgrep", "-f", "mailtui install --worker"], check=False).returncode == 0:
            problems.append("the install worker survived its kill")
        after = snapshot(host, [*WATCHED, STATE_DIR])
        index_text = host.run(["cat", f"{STATE_DIR}/backups/index.json"], check=False).stdout
        problems += kill_problems(ref, before, after, trace, index_text, packages=fresh)
        if then_rollback:
            rolled = rollback(host, "--yes")
            if rolled.returncode != 0:
                problems.append(f"rollback failed ({rolled.returncode}): {(rolled.stdout + rolled.stderr)[-1500:]}")
            restored = snapshot(host, WATCHED)
            problems += rollback_problems(before, restored)
            return Outcome(point, spec, problems, time.monotonic() - began, "rollback")
        again, result = install_again(host)
        if result.returncode != 0:
            problems.append(f"`mailtui install {again}` after the kill failed ({result.returncode}):\n"
                            f"{(result.stdout + result.stderr)[-2500:]}")
        else:
            failed = check_failures(host)
            if failed:
                problems.append("`mailtui check` fails after the install was run again: " + "; ".join(failed))
            audit = host.run(["dpkg", "--audit"], check=False).stdout.strip()
            if audit:
                problems.append(f"dpkg --audit still reports: {audit[:500]}")
            problems += final_problems(ref, snapshot(host, [*WATCHED, STATE_DIR]), fresh=fresh)
    return Outcome(point, spec, problems, time.monotonic() - began, again)


# Left different by a rollback, by design: the `-` copies shadow-utils keeps when useradd/userdel edit
# the account files; Postfix's runtime directory /var/spool/postfix/private with the sockets Postfix and
# Dovecot made in it (Debian 13's package does not ship it: Postfix makes it on its first start, mailtui
# before that, for Dovecot); and the mail store once it holds mail (the IMAP login of the verify step
# makes the first mailbox). Rollback keeps a directory mailtui made that holds what it did not make, and
# says so.
ROLLBACK_NOISE = ("/etc/passwd-", "/etc/group-", "/etc/shadow-", "/etc/gshadow-")
POSTFIX_PRIVATE = "/var/spool/postfix/private"
MAIL_STORE = "/var/mail/vhosts"


def rollback_problems(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    keeps_mail = len([p for p in after if p.startswith(MAIL_STORE + "/")]) > 0
    for path in sorted(set(before) | set(after)):
        if path in ROLLBACK_NOISE or (path.startswith(POSTFIX_PRIVATE + "/")
                                      and after.get(path, {}).get("type") == "other"):
            continue
        if path == POSTFIX_PRIVATE and before.get(path, {}).get("type", "absent") == "absent" \
                and after.get(path, {}).get("owner") == "postfix:root":
            continue
        if keeps_mail and (path == MAIL_STORE or path.startswith(MAIL_STORE + "/")):
            continue
        if before.get(path) != after.get(path):
            problems.append(f"{path}: {after.get(path, {'type': 'absent'})} after rollback, "
                            f"{before.get(path, {'type': 'absent'})} before the install")
    return problems


def walk(ref: Reference, jobs: list[tuple[dict[str, Any], str, dict[str, Any]]], workers: int) -> list[Outcome]:
    """walk_point for each (point, spec, options), `workers` hosts at a time; prints each outcome."""
    outcomes: list[Outcome] = []
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        futures = [pool.submit(walk_point, ref, point, spec, **options) for point, spec, options in jobs]
        for future in concurrent.futures.as_completed(futures):
            outcome = future.result()
            outcomes.append(outcome)
            print(f"[{ref.release}] {outcome.line()}", flush=True)
    finally:
        # On a failure, a timeout or SIGTERM: the points not started yet are not walked any more.
        pool.shutdown(wait=True, cancel_futures=True)
    return sorted(outcomes, key=lambda o: o.point["n"])


def walk_and_check(ref: Reference, jobs: list[tuple[dict[str, Any], str, dict[str, Any]]], what: str,
                   detail: Callable[[list[Outcome]], str] = lambda outcomes: "") -> list[Outcome]:
    """walk() with workers() hosts at a time; prints what was walked (`what`, then `detail` of the outcomes) and
    how long it took, and fails listing every point that failed."""
    began = time.monotonic()
    outcomes = walk(ref, jobs, workers())
    failed = [o for o in outcomes if o.problems]
    print(f"\n[{ref.release}] {what}: walked {len(outcomes)} points{detail(outcomes)} in "
          f"{time.monotonic() - began:.0f} s ({workers()} at a time); {len(failed)} failed")
    assert not failed, "\n".join(o.line() for o in failed)
    return outcomes


def workers() -> int:
    """Hosts walked at a time in each test process: MAILTUI_FAULT_JOBS, else one a CPU shared among the xdist
    workers (the other release walks in the other one), but at least 2: a host waits on its services much of
    the time (measured 2026-12-07, 2 cores, 2 workers walking one host each: the tier's CPU 77 % busy, a point
    17-20 s)."""
    if "MAILTUI_FAULT_JOBS" in os.environ:
        return int(os.environ["MAILTUI_FAULT_JOBS"])
    processes = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(2, (os.cpu_count() or 2) // processes)


def exhaustive() -> bool:
    return os.environ.get("MAILTUI_FAULT_ALL", "") not in ("", "0")


RELEASES = ["bookworm", "trixie"]


def other_release(release: str) -> str:
    return RELEASES[1 - RELEASES.index(release)]


def both_releases() -> bool:
    """MAILTUI_FAULT_BOTH=1: the CI sample walks each of its points on both releases. By default (split()) a
    class of point both releases have is walked on one of them, alternately; a class only one has, on that
    one (every full walk, MAILTUI_FAULT_ALL=1, walks every point of both)."""
    return os.environ.get("MAILTUI_FAULT_BOTH", "") not in ("", "0")


def split(release: str, mine: dict[Any, dict[str, Any]], other: dict[Any, dict[str, Any]],
          order: list[Any]) -> list[dict[str, Any]]:
    """The points of `mine` (one point per class, by class) this release walks: its classes the other release
    does not have, and every other one of the classes both have, in `order` (the same list on both releases:
    the common classes in the order bookworm's install meets them), starting with bookworm."""
    common = [c for c in order if c in mine and c in other]
    ours = {c for i, c in enumerate(common) if RELEASES[i % 2] == release}
    return [point for c, point in mine.items() if c not in other or c in ours]


def only() -> set[str] | None:
    """MAILTUI_FAULT_ONLY=SPEC[,SPEC…] (e.g. dpkg-unpack:19,any:40): walk just those points (to re-run what
    a full walk found); None when unset."""
    value = os.environ.get("MAILTUI_FAULT_ONLY", "").strip()
    return {v.strip() for v in value.split(",") if v.strip()} or None
