"""Run the TUI on scripted operations in a real terminal, to look at it (e.g. in tmux at 80x24):

    .venv/bin/python -m tests.tui.demo            # the wizard on a machine mailtui has not installed
    .venv/bin/python -m tests.tui.demo dashboard  # the dashboard of an installed server

Nothing touches the machine: every operation is scripted (tests/tui/fakes.py) and anything unscripted
refuses, as in the TUI tests.
"""

from __future__ import annotations

import sys

from mailtui.screens.app import MailtuiApp

from tests.tui.fakes import STEP_NAMES, DashboardEngine, FakeEngine, dns_zone, long_plan, ok_run


def main(argv: list[str]) -> int:
    which = argv[0] if argv else "wizard"
    if which == "dashboard":
        engine: FakeEngine = DashboardEngine()
    elif which == "wizard":
        # With ACME chosen, the review's DNS check finds mail.example.org pointing at another machine.
        engine = FakeEngine(runs=[ok_run(STEP_NAMES)], plan=long_plan(),
                            acme_dns=dns_zone({("mail.example.org", "A"): ["203.0.113.9"]}))
    else:
        print(f"unknown demo {which!r}: wizard or dashboard", file=sys.stderr)
        return 2
    MailtuiApp(ops=engine).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
