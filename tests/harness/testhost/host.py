"""A throwaway test host: a copy-on-write overlay of a cached base (and layers) with its own mount, PID, UTS,
IPC and network namespaces, plugged into a sealed test network; commands run inside via nsenter; killing
its PID 1 kills the whole host; close() removes mounts, namespace and directories.

    with test_host("trixie") as host:                 # a host on a network of its own
        host.run("apt-get install -y --no-download postfix", env={"DEBIAN_FRONTEND": "noninteractive"})
        host.mailtui("install", "--answers", "/root/answers.toml")

    <cache>/hosts/<id>/   upper/ work/ merged/ meta.json init.log   (one live host)
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tests.harness.testhost import bases, boot, cgroups, procs, pydeps
from tests.harness.testhost.common import (
    DEFAULT_HOSTNAME,
    INSIDE_PATH,
    MAILTUI_PYTHONPATH,
    CommandFailed,
    TestHostError,
    cache_dir,
    cache_lock,
    cmd,
    install_sigterm_handler,
    log,
    require_root,
    tool,
    write_atomic,
    write_in_root,
)
from tests.harness.testhost.layers import Layer, expand
from tests.harness.testhost.network import TestNetwork

_LIVE: dict[str, TestHost] = {}

# dpkg without an fsync per unpacked file (as Debian's own container images do, docker-apt-speedup): a test host's
# disk is a throwaway overlay that no test power-cycles, and a killed process (the interruption walk) leaves the
# page cache as it was, synced or not. Measured: the stack's packages in 58.6 s instead of 68.0 s (2026-12-07).
DPKG_UNSAFE_IO = ("/etc/dpkg/dpkg.cfg.d/zz-mailtui-test-unsafe-io",
                  "# mailtui test host: a throwaway disk, no fsync per file\nforce-unsafe-io\n")


def live_hosts() -> list[TestHost]:
    return list(_LIVE.values())


@dataclass
class TestHost:
    """One running throwaway host. Create with test_host(), create_host() or TestNetwork.host()."""

    __test__ = False

    release: str
    hostname: str
    id: str
    name: str  # its name on the network (/etc/hosts of every host on it)
    network: TestNetwork
    dir: Path  # hosts/<id>: upper/ work/ merged/ meta.json init.log
    layers: list[Layer] = field(default_factory=list)
    owns_network: bool = False  # a network of its own (test_host()): closed with the host
    ip: str = ""
    init_pid: int = 0  # PID 1 of the host, as seen from this machine
    ns_ids: set[str] = field(default_factory=set)
    init: str = "auto"  # "systemd" (systemd-nspawn --boot), "plain" (pid1.py) or "auto": systemd when the
    # systemd layer is among its layers
    boot_state: str = ""  # systemd hosts: `systemctl is-system-running` when the boot was over
    cgroups: list[Path] = field(default_factory=list)  # systemd hosts: the host's cgroup subtrees
    _proc: subprocess.Popen[bytes] | None = None
    _mounts: tuple[Path, Path] | None = None  # the deps and app dirs mounted read-only inside
    _overlay_dev: int | None = None
    _resolv_written: str | None = None  # the /etc/resolv.conf write_identity() wrote last
    _closed: bool = False

    @property
    def runner_ip(self) -> str:
        """The test runner's address on the host's network: where connections from the runner come from."""
        return self.network.runner_ip

    @property
    def root(self) -> Path:
        """The merged overlay, readable/writable from outside (without the host's /proc, /dev, /run, /tmp)."""
        return self.dir / "merged"

    @property
    def netns(self) -> str:
        """The host's named network namespace (/run/netns/<netns>)."""
        return f"tnh-{self.id}"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def systemd(self) -> bool:
        """systemd is PID 1 of this host."""
        return self.init == "systemd"

    # -------------------------------------------------------------------------------- running things

    def _env(self, env: dict[str, str] | None) -> dict[str, str]:
        base = {"PATH": INSIDE_PATH, "HOME": "/root", "LANG": "C.UTF-8", "USER": "root", "LOGNAME": "root",
                "SHELL": "/bin/sh"}  # fmt: skip
        return {**base, **(env or {})}

    def _argv(self, cmd: Sequence[str] | str) -> list[str]:
        if self._closed or not self.init_pid:
            raise TestHostError(f"test host {self.id} is not running")
        inner = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else [str(c) for c in cmd]
        enter = [tool("nsenter"), "-t", str(self.init_pid), "-m", "-u", "-i", "-n", "-p", "-r", "-w", "--"]
        return [*enter, *inner]

    def run(
        self,
        cmd: Sequence[str] | str,
        *,
        input: str | bytes | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside (a str runs via /bin/sh -c) as root in /, with a clean environment.

        stdin/stdout/stderr are temp files, never pipes: a daemon the command starts may keep them open
        without making this hang. On timeout the command and its children are killed (daemons it detached
        survive until close()) and subprocess.TimeoutExpired is raised.
        """
        argv = self._argv(cmd)
        temp = tempfile.TemporaryFile
        with temp() as out, temp() as err, temp() as inp:
            if input is not None:
                inp.write(input.encode() if isinstance(input, str) else input)
                inp.seek(0)
            stdin: IO[bytes] | int = inp if input is not None else subprocess.DEVNULL
            proc = subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=err, env=self._env(env))
            try:
                returncode = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                procs.kill([*procs.descendants(proc.pid), proc.pid])
                proc.wait()
                raise subprocess.TimeoutExpired(cmd, timeout, _read(out), _read(err)) from None
            stdout, stderr = _read(out), _read(err)
        result = subprocess.CompletedProcess(cmd, returncode, stdout, stderr)
        if check and returncode != 0:
            raise CommandFailed(returncode, cmd, stdout, stderr)
        return result

    def mailtui(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        """`python3 -m mailtui ARGS` inside, with the repo's mailtui and its deps on PYTHONPATH."""
        kw["env"] = {"PYTHONPATH": MAILTUI_PYTHONPATH, **(kw.get("env") or {})}
        return self.run(["python3", "-m", "mailtui", *args], **kw)

    def interactive(self, cmd: Sequence[str] = ("/bin/bash", "-l"), env: dict[str, str] | None = None) -> int:
        """Run a command inside on this terminal (stdin, stdout and stderr inherited); returns its exit code."""
        term = {"TERM": os.environ.get("TERM", "xterm"), "PS1": rf"\u@{self.hostname}({self.release}):\w\$ "}
        return subprocess.call(self._argv(cmd), env=self._env({**term, **(env or {})}))

    def add_client_address(self) -> str:
        """One more source address of the test runner towards this host, beside runner_ip (e.g. a second client
        for a test that gets one client banned): another address of the runner's veth on the host's network.
        Bind it as a socket's source address. It goes with the network."""
        return self.network.add_runner_address()

    def write_file(self, path: str, content: str | bytes, mode: int = 0o644) -> None:
        """Create or replace a file inside (parent dirs created), owned by root."""
        script = 'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod "$2" "$1"'
        self.run(["/bin/sh", "-c", script, "sh", path, f"{mode:o}"], input=content)

    def read_file(self, path: str) -> str:
        return self.run(["cat", "--", path]).stdout

    def start_daemon(self, cmd: Sequence[str] | str, *, log: str | None = None) -> int:
        """Start a detached background process inside; returns its PID inside the host.

        Its stdin is /dev/null and stdout/stderr append to `log` inside (default /var/log/testhost-<n>.log).
        """
        log = log or f"/var/log/testhost-{secrets.token_hex(3)}.log"
        argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else [str(c) for c in cmd]
        script = 'log="$1"; shift; setsid "$@" </dev/null >>"$log" 2>&1 & echo $!'
        return int(self.run(["/bin/sh", "-c", script, "sh", log, *argv]).stdout.strip())

    def wait_tcp(self, port: int, timeout: float = 15) -> None:
        """Wait until host.ip:port accepts a TCP connection from the test runner."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection((self.ip, port), timeout=1):
                    return
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise TestHostError(f"{self.ip}:{port} refuses connections after {timeout} s: {exc}") from exc
                time.sleep(0.1)

    # ---------------------------------------------------------------------------- start and teardown

    def _meta(self) -> dict[str, Any]:
        return {
            "id": self.id, "release": self.release, "hostname": self.hostname, "name": self.name,
            "network": self.network.id, "netns": self.netns, "ip": self.ip, "init_pid": self.init_pid,
            "ns_ids": sorted(self.ns_ids), "layers": [str(layer.root) for layer in self.layers],
            "init": self.init, "cgroups": [str(c) for c in self.cgroups],
            "owner_pid": os.getpid(), "owner_start": procs.start_time(os.getpid()),
        }  # fmt: skip

    def _save_meta(self) -> None:
        write_atomic(self.dir / "meta.json", json.dumps(self._meta(), indent=2) + "\n")

    def _start(self, base: Path, deps: Path, app: Path) -> None:
        for sub in ("upper", "work", "merged"):
            (self.dir / sub).mkdir()
        self._save_meta()
        lowers = [str(layer.root) for layer in reversed(self.layers)] + [str(base)]
        opts = f"lowerdir={':'.join(lowers)},upperdir={self.dir / 'upper'},workdir={self.dir / 'work'}"
        cmd([tool("mount"), "-t", "overlay", "overlay", "-o", opts, self.root], what="overlay mount")
        self._overlay_dev = os.stat(self.root).st_dev
        member = self.network.attach(self.id, self.name, [self.hostname])
        self.ip = member.ip
        self._save_meta()
        self.write_identity()
        write_in_root(self.root, *DPKG_UNSAFE_IO)
        member.host = self
        self.network.refresh_members()
        self._mounts = (deps, app)
        # Not "systemd is installed": Debian 13's stack pulls systemd in as a dependency, on hosts meant to
        # stay without it (the bare reaper as PID 1, services started by mailtui alone).
        has_layer = any(layer.name == "systemd" for layer in self.layers)
        if self.init == "auto":
            self.init = "systemd" if has_layer else "plain"
        if self.init == "systemd":
            if not has_layer or not (self.root / "usr/lib/systemd/systemd").exists():
                raise TestHostError(f"a systemd host needs the systemd layer ({self.release}): add systemd_layer()")
            self.cgroups = [Path(c) for c in cgroups.planned(self.id)]
            self._save_meta()  # before anything exists: a killed test leaves what clean() can find
            self._boot_systemd()
            return
        booted = boot.boot(self.root, self.hostname, self.netns, deps, app, self.dir / "init.log")
        self._proc, self.init_pid, self.ns_ids = booted.proc, booted.init_pid, booted.ns_ids
        self._save_meta()

    def _boot_systemd(self) -> None:
        """Boot systemd on the overlay (first start and reboots alike) and record the new PID 1."""
        assert self._mounts is not None
        deps, app = self._mounts
        booted = boot.boot_systemd(self.root, self.hostname, self.netns, deps, app, self.dir / "init.log", self.id)
        self._proc, self.init_pid, self.ns_ids = booted.proc, booted.init_pid, booted.ns_ids
        self.boot_state = booted.boot_state
        self._save_meta()

    def reboot(self, *, timeout: float = 60) -> float:
        """`systemctl reboot` inside — a clean shutdown, as on a real server — then boot the same overlay again
        in the same network namespace; returns once the boot is over (the seconds it all took). systemd hosts
        only; what ran inside is gone, what was written to disk stays."""
        if not self.systemd or self._proc is None or self._mounts is None:
            raise TestHostError(f"test host {self.id} does not run systemd: it cannot reboot")
        start = time.monotonic()
        self.run(["systemctl", "reboot"], check=False, timeout=30)
        try:
            code = self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TestHostError(f"test host {self.id} did not shut down in {timeout} s") from None
        if code != boot.NSPAWN_REBOOT_EXIT:
            raise TestHostError(f"systemd-nspawn exited {code} on a reboot (expected {boot.NSPAWN_REBOOT_EXIT})")
        busy = cgroups.remove(self.cgroups)  # the last boot's payload/ and supervisor/
        if busy:
            raise TestHostError(f"the last boot's cgroups are still busy: {busy}")
        self.init_pid = 0
        self._boot_systemd()
        took = time.monotonic() - start
        log(f"host {self.id} ({self.release}) rebooted in {took:.2f} s ({self.boot_state})")
        return took

    def write_identity(self) -> None:
        """/etc/hostname, /etc/hosts (every host of the network) and /etc/resolv.conf (the test DNS, if any)."""
        write_in_root(self.root, "/etc/hostname", f"{self.hostname}\n")
        write_in_root(self.root, "/etc/hosts", self.network.hosts_file())
        # resolv.conf only while it holds what the harness wrote (a host's own software may have made it its
        # own: mailtui's resolver step points it at unbound, and `mailtui check` fails when anything rewrites it).
        resolv = self.root / "etc" / "resolv.conf"
        now = resolv.read_text(errors="replace") if resolv.is_file() and not resolv.is_symlink() else None
        if now is None or now == self._resolv_written or self._resolv_written is None:
            self._resolv_written = self.network.resolv_conf()
            write_in_root(self.root, "/etc/resolv.conf", self._resolv_written)
        # Every installed Debian has this link (systemd or initscripts make it); minbase does not,
        # and doveconf then reports "setmntent(/etc/mtab) failed" on every run.
        mtab = self.root / "etc" / "mtab"
        if not mtab.exists() and not mtab.is_symlink():
            mtab.symlink_to("../proc/self/mounts")

    def leftovers(self) -> list[str]:
        """Anything of this host still on the machine (empty after a clean close())."""
        found = []
        others = set().union(*(h.ns_ids for h in _LIVE.values() if h is not self))
        ours = self.ns_ids - others
        for pid in procs.pids_in_namespaces(ours) if ours else []:
            found.append(f"process {pid} in the host's namespaces: {procs.cmdline(pid)}")
        if self._overlay_dev is not None:
            other_devs = {h._overlay_dev for h in _LIVE.values() if h is not self}
            for pid in procs.proc_pids():
                with contextlib.suppress(OSError):
                    dev = os.stat(f"/proc/{pid}/root").st_dev
                    if dev == self._overlay_dev and dev not in other_devs:
                        found.append(f"process {pid} rooted in the host's overlay: {procs.cmdline(pid)}")
        found += [f"mount {m}" for m in procs.mounts_under(self.dir)]
        if procs.netns_exists(self.netns):
            found.append(f"netns {self.netns}")
        if procs.link_exists(f"h{self.id}"):
            found.append(f"veth h{self.id}")
        found += [f"cgroup {c}" for c in self.cgroups if c.exists()]
        if self.dir.exists():
            found.append(f"directory {self.dir}")
        return found

    def close(self, *, keep_upper: Path | None = None) -> None:
        """Kill the whole host (SIGKILL to its PID 1), unmount, delete its namespace and directory (moving its
        upper dir to `keep_upper` first, if given: how a layer is made). Idempotent."""
        if self._closed:
            return
        self._closed = True
        start = time.monotonic()
        try:
            teardown(self.dir, self._meta(), self._proc, keep_upper=keep_upper)
        finally:
            _LIVE.pop(self.id, None)
            with contextlib.suppress(Exception):
                self.network.detach(self.name, self.id)
            if self.owns_network:
                self.network.close()
        log(f"host {self.id} ({self.release}) torn down in {time.monotonic() - start:.2f} s")


def _read(fh: IO[bytes]) -> str:
    fh.seek(0)
    return fh.read().decode(errors="replace")


def teardown(host_dir: Path, meta: dict[str, Any], proc: subprocess.Popen[bytes] | None = None, *,
             keep_upper: Path | None = None) -> None:
    """Kill, unmount and delete everything a host (live or stale, described by meta.json) left behind."""
    ns_ids = set(meta.get("ns_ids") or [])
    init_pid = meta.get("init_pid") or 0
    victims: dict[int, str | None] = {}
    if init_pid and procs.ns_id(init_pid, "pid") in ns_ids:  # still our init, not a recycled PID
        # Snapshot now: once the namespaces are freed, their inode numbers can be reused by another host.
        victims = {pid: procs.start_time(pid) for pid in procs.pids_in_namespaces(ns_ids)}
        procs.kill([init_pid])  # the kernel kills everything else in the PID namespace
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 5
    while victims and time.monotonic() < deadline:
        victims = {pid: st for pid, st in victims.items() if st is not None and procs.start_time(pid) == st}
        procs.kill(list(victims))
        time.sleep(0.02)
    for point in procs.mounts_under(host_dir):
        procs.umount(point)
    if meta.get("netns"):
        procs.delete_netns(meta["netns"])
    remaining = procs.mounts_under(host_dir)
    if remaining:
        raise TestHostError(f"could not unmount {remaining}; leaving {host_dir} in place")
    busy = cgroups.remove([Path(c) for c in meta.get("cgroups") or []])
    if busy:
        raise TestHostError(f"could not remove the host's cgroups: {busy}")
    if keep_upper is not None:
        (host_dir / "upper").rename(keep_upper)
    shutil.rmtree(host_dir, ignore_errors=True)
    if host_dir.exists():
        raise TestHostError(f"could not remove {host_dir}")


def create_host(release: str, hostname: str = DEFAULT_HOSTNAME, *, network: TestNetwork | None = None,
                name: str | None = None, layers: Sequence[Layer] = (), init: str = "auto") -> TestHost:
    """Start a throwaway host (building/caching its base, deps and app first if needed). Call close().

    On `network` (closed with it), else on a network of its own. `layers` (from layers.ensure_layer, lowest
    first; each brings the layers it was built on) are stacked on the release's base, under the host's own
    upper dir. `init`: "systemd" boots
    systemd (the layers must include systemd_layer()), "plain" a bare reaper as PID 1, "auto" systemd
    when the layers include systemd_layer()."""
    if init not in ("auto", "systemd", "plain"):
        raise TestHostError(f"init must be auto, systemd or plain, not {init!r}")
    layers = expand(layers)
    require_root()
    install_sigterm_handler()
    deps = pydeps.ensure_pydeps()
    pydeps.compile_pydeps(release)
    app = pydeps.build_app_dir()
    for layer in layers:
        if layer.release != release:
            raise TestHostError(f"layer {layer.root} is for {layer.release}, not {release}")
    start = time.monotonic()
    host_id = secrets.token_hex(4)
    host_dir = cache_dir() / "hosts" / host_id
    host_dir.mkdir(parents=True)
    own = network is None
    net = TestNetwork.create() if network is None else network
    host = TestHost(release=release, hostname=hostname, id=host_id, name=name or hostname.split(".")[0],
                    network=net, dir=host_dir, layers=list(layers), owns_network=own, init=init)
    _LIVE[host_id] = host
    try:
        while True:
            with cache_lock(exclusive=False):
                base = bases.current_base(release)
                if base is not None and bases.base_state(release) == "current":
                    for layer in layers:
                        layer.check_usable(base)
                    host._start(base, deps, app)
                    break
            bases.ensure_base(release)
    except BaseException:
        host.close()
        raise
    log(f"host {host_id} ({release}, {hostname}) at {host.ip} up in {time.monotonic() - start:.2f} s")
    return host


@contextlib.contextmanager
def test_host(release: str, hostname: str = DEFAULT_HOSTNAME, *, layers: Sequence[Layer] = (),
              init: str = "auto") -> Iterator[TestHost]:
    """A throwaway host on a network of its own for the duration of the block; always torn down."""
    host = create_host(release, hostname, layers=layers, init=init)
    try:
        yield host
    finally:
        host.close()


test_host.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when imported into one
