"""`mailtui check`: is everything the install set up still in place and working?

One composition for the command line and the Verify screen: every step's own checks (its declared
resources in place, its services running, its functional checks), the network (ports, TLS), the saved
answers' mode — and, when asked, an IMAPS login and a full round trip.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailtui import paths
from mailtui.install import plan as install_plan
from mailtui.model.answers import Answers
from mailtui.report import Check
from mailtui.stack import probes
from mailtui.stack import roundtrip as roundtrip_probe


@dataclass(frozen=True)
class CheckResult:
    area: str  # a step's name, or "network", "files", "login", "roundtrip"
    title: str  # the group an operator reads ("Postfix", "Network", …)
    check: Check


def answers_file_check() -> Check:
    name = f"{paths.ANSWERS_FILE} root-only"
    try:
        mode = paths.ANSWERS_FILE.stat().st_mode & 0o777
    except FileNotFoundError:
        return Check(name, False, "missing")
    return Check(name, mode == 0o600, f"mode {mode:04o}")


def run_checks(answers: Answers, *, login: tuple[str, str] | None = None,
               roundtrip: tuple[str, str] | None = None) -> list[CheckResult]:
    """Every check, in the order the install applies the steps. `login` and `roundtrip` are (email,
    password): an IMAPS login, and a real message sent over SMTP and read back over IMAPS."""
    ctx = install_plan.make_context(answers)
    results = [CheckResult(step.name, step.title, c)
               for step in install_plan.steps_for(ctx) if step.name != "verify" for c in step.verify(ctx)]
    results += [CheckResult("network", "Network", c)
                for c in probes.port_checks(answers) + probes.tls_checks(answers)]
    results.append(CheckResult("files", "Files", answers_file_check()))
    if login is not None:
        results.append(CheckResult("login", "Login", probes.imap_login_check(*login)))
    if roundtrip is not None:
        results += [CheckResult("roundtrip", "Round trip", c) for c in roundtrip_probe.roundtrip(*roundtrip)]
    return results
