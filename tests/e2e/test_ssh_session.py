"""The wizard over a real SSH session that drops, as an admin runs it: an operator's machine on the test
network holds a real terminal (tmux, 80x24) running a real `ssh -t` into a fresh server that boots systemd;
the wizard is walked with keys alone, the install started, and mid-packages (a point read from the install
worker's state, not a sleep) the connection goes — the ssh client killed, or (second run) the operator's
link cut so that nothing tells sshd. A new SSH session and `mailtui` follow the install that went on by
itself, show the real diffs, and finish it. After `ufw enable` a new SSH connection still works."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import HOSTNAME, _require_root, package_installed
from tests.harness.testhost import MAILTUI_PYTHONPATH, TestHost, TestNetwork, systemd_layer, test_network
from tests.harness.testhost.common import tool
from tests.harness.testhost.systemd_layer import client_layer

pytestmark = pytest.mark.e2e

PASSWORD = "Adm1n-Secret-pw"
STATE = "/var/lib/mailtui/install/state.json"
KNOWN_HOSTS = "/root/known_hosts"  # a temporary known-hosts file: the server's key, scanned once
REVERSE = "\x1b[1;7m"  # how the focused button is drawn (bold, reverse video)


class Terminal:
    """A tmux session (80x24) on the operator's machine: keys in, the screen's text out."""

    def __init__(self, client: TestHost, name: str, command: str) -> None:
        self.client, self.name = client, name
        # `; sleep`: the pane stays readable after ssh ends
        client.run(["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "24", f"{command}; sleep 3600"],
                   env={"TERM": "xterm-256color"})

    def screen(self, *, escapes: bool = False) -> str:
        return self.client.run(["tmux", "capture-pane", "-p", *(["-e"] if escapes else []), "-t", self.name]).stdout

    def keys(self, *keys: str, pause: float = 0.4) -> None:
        for key in keys:  # one at a time: keys sent in one burst were seen to get lost (a Tab among typed text)
            self.client.run(["tmux", "send-keys", "-t", self.name, key])
            time.sleep(pause)

    def type(self, text: str) -> None:
        self.client.run(["tmux", "send-keys", "-t", self.name, "-l", text])
        time.sleep(0.4)

    def wait_for(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if text in shown:
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never showed in {timeout} s; the screen:\n{shown}")
            time.sleep(0.3)

    def focus_button(self, label: str, tries: int = 8) -> None:
        for _ in range(tries):
            if any(REVERSE in line and label in line.split(REVERSE, 1)[1][:len(label) + 30]
                   for line in self.screen(escapes=True).splitlines()):
                return
            self.keys("Tab")
        raise AssertionError(f"Tab never reached {label!r}; the screen:\n{self.screen()}")


def state_of(mx: TestHost) -> dict:
    try:
        return json.loads(mx.run(["cat", STATE], check=False).stdout)
    except json.JSONDecodeError:
        return {}


def ssh_command(mx: TestHost, remote: str = "") -> str:
    return (f"ssh -t -o UserKnownHostsFile={KNOWN_HOSTS} -o BatchMode=yes -o ConnectTimeout=10 root@{mx.ip} "
            f"{remote}")


@pytest.fixture
def operator_and_server(request: pytest.FixtureRequest) -> Iterator[tuple[TestNetwork, TestHost, TestHost]]:
    _require_root()
    release = request.param
    with test_network() as net:
        mx = net.host(release, "mail", hostname=HOSTNAME, layers=[systemd_layer(release)])
        client = net.host(release, "client", layers=[systemd_layer(release), client_layer(release)])
        key = client.run("mkdir -p -m 700 /root/.ssh && ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519 "
                         "&& cat /root/.ssh/id_ed25519.pub").stdout
        mx.write_file("/root/.ssh/authorized_keys", key, mode=0o600)
        client.run(f"ssh-keyscan -t ed25519 {mx.ip} > {KNOWN_HOSTS} 2>/dev/null && test -s {KNOWN_HOSTS}")
        yield net, client, mx


def wait_for_the_plan(term: Terminal) -> None:
    """Review's plan is made: its summary asks for Tab. Until then Confirm & install is shown but disabled, and
    Tab passes it by (after the packages the real diffs, DKIM keys among them, took over 5 s under load)."""
    term.wait_for("Tab to the buttons", timeout=180)


def walk_to_the_install(term: Terminal) -> None:
    term.wait_for("Welcome to mailtui")
    # Next on the welcome screen waits for the check of the machine ("Still checking this machine…"): its
    # facts (the mailname among them) are shown once it is done. Under load it outlasted the first PageDown.
    term.wait_for("Mailname")
    term.keys("PageDown")
    # DKIM, the spam filter and SRS off (Space on each box): this test is about the connection, and each of
    # them would add packages and a daemon's first start to the install (tests/e2e/test_dkim.py and
    # test_spam.py prove them; the wizard test installs them as the wizard offers them).
    term.wait_for("Sign outgoing mail with DKIM")
    term.keys("Tab", "Space", "Tab", "Space", "Tab", "Space")
    term.wait_for("▐ ▌ Rewrite forwarded")
    screen = term.screen()
    assert "▐ ▌ Sign outgoing mail with DKIM" in screen and "▐ ▌ Filter spam" in screen, screen
    term.keys("PageDown", "PageDown", "PageDown")
    term.wait_for("First user and aliases")
    term.keys("Tab")
    term.type(PASSWORD)
    term.keys("Tab")
    term.type(PASSWORD)
    term.keys("PageDown", "PageDown", "PageDown", pause=0.8)
    # The webmail and security updates off too (the first box has the focus): more packages and services.
    term.wait_for("Daily security updates")
    term.keys("Space", "Tab", "Space")
    term.wait_for("▐ ▌ Daily security updates")
    screen = term.screen()
    assert "▐ ▌ Webmail at" in screen, screen
    term.keys("PageDown", "PageDown", pause=0.8)
    term.wait_for("Review: what will change", timeout=90)
    wait_for_the_plan(term)
    term.focus_button("Confirm & install")
    term.keys("Enter")


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("operator_and_server", "drop"), [("bookworm", "kill"), ("trixie", "cut")],
                         indirect=["operator_and_server"])
def test_the_wizard_over_ssh_survives_the_connection_dropping(
        operator_and_server: tuple[TestNetwork, TestHost, TestHost], drop: str) -> None:
    net, client, mx = operator_and_server
    mailtui = f"env PYTHONPATH={MAILTUI_PYTHONPATH} python3 -m mailtui"
    first = Terminal(client, "first", ssh_command(mx, mailtui))
    walk_to_the_install(first)

    # Mid-packages, read from the worker's state and dpkg at work: the connection goes.
    deadline = time.monotonic() + 120
    while not (state_of(mx).get("steps", {}).get("packages") == "running"
               and mx.run("pgrep -x dpkg", check=False).returncode == 0):
        assert time.monotonic() < deadline, f"the packages never started; the screen:\n{first.screen()}"
        time.sleep(0.2)
    port = f"h{client.id}"
    if drop == "kill":
        client.run(["pkill", "-9", "-x", "ssh"])
    else:  # silently: the operator's link goes down, no FIN, no RST reaches sshd
        net_ns = net.bridge_netns
        client_ip = client.ip
        mx.run(f"ss -tn state established '( sport = :22 )' | grep -q {client_ip}")  # the session is there
        subprocess.run([tool("ip"), "-n", net_ns, "link", "set", port, "down"], check=True)
        time.sleep(2)
        subprocess.run([tool("ip"), "-n", net_ns, "link", "set", port, "up"], check=True)
        client.run(["pkill", "-9", "-x", "ssh"])  # the operator gives up on the frozen terminal
    state = state_of(mx)
    assert state.get("status") == "running" and state["steps"]["packages"] in ("running", "done"), state

    # A new session: mailtui follows the install that went on, then shows the real diffs and finishes it.
    second = Terminal(client, "second", ssh_command(mx, mailtui))
    second.wait_for("Continue to review the real", timeout=300)
    assert "Install finished" not in second.screen()
    second.focus_button("Continue")
    second.keys("Enter")
    second.wait_for("The packages are installed", timeout=120)
    wait_for_the_plan(second)
    second.focus_button("Confirm & install")
    second.keys("Enter")
    second.wait_for("Install finished", timeout=300)

    check = mx.mailtui("check", check=False, timeout=300)
    assert check.returncode == 0, check.stdout[-3000:]
    # The boxes the operator unticked reached the install: neither package was installed.
    for package in ("rspamd", "postsrsd", "nginx", "unattended-upgrades"):
        assert not package_installed(mx, package), package
    assert "Status: active" in mx.run(["ufw", "status"]).stdout
    # The firewall is on, and a new SSH connection still gets in (the port this session came in on).
    again = client.run(ssh_command(mx, "echo still-in").replace("ssh -t", "ssh"), check=False, timeout=60)
    assert again.returncode == 0 and "still-in" in again.stdout, again.stdout + again.stderr
