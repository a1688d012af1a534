"""`mailtui …` — the command line. Every action the TUI offers is here too, headless, through the same
operations API (mailtui/api). This module parses the arguments and hands each command to its module.

Exit codes (cli/common.py, README "The command line"): 0 success; 1 a failure (a failed step, check or
action, a declined confirmation, the machine not ready for it); 2 invalid input or usage (a bad value or a
name that does not exist, named by its field; nothing changed); 3 busy (another install or mailtui holds
the lock; nothing changed).
Passwords never come from argv: a prompt (asked twice) or --password-stdin.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from mailtui import __version__
from mailtui.api.live import LiveOperations
from mailtui.api.operations import Operations
from mailtui.cli import accounts, bans, check, dkim, dns, install, logs, ops, rollback, spam
from mailtui.cli.common import EXIT_BUSY, EXIT_FAIL, EXIT_INVALID
from mailtui.errors import Busy, MailtuiError, NotFound, ValidationError


def cmd_tui(args: argparse.Namespace, operations: Operations) -> int:
    from mailtui.screens.app import run_app  # lazy: only the terminal UI needs Textual

    return run_app(operations)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailtui", description="Install and run a Postfix + Dovecot + "
                                     "MariaDB mail server. Without a command, the terminal UI starts.")
    parser.add_argument("--version", action="version", version=f"mailtui {__version__}")
    sub = parser.add_subparsers(dest="command")
    install.add_parser(sub)
    check.add_parser(sub)
    accounts.add_parsers(sub)
    logs.add_parser(sub)
    ops.add_parsers(sub)
    rollback.add_parser(sub)
    bans.add_parser(sub)
    dns.add_parser(sub)
    dkim.add_parser(sub)
    spam.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None, operations: Operations | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args.func = cmd_tui
    try:
        return args.func(args, operations or LiveOperations())
    except ValidationError as exc:
        print(f"mailtui: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except NotFound as exc:  # a name that names nothing is invalid input, shown like any other
        print(f"mailtui: {ValidationError({exc.field or 'input': str(exc)})}", file=sys.stderr)
        return EXIT_INVALID
    except Busy as exc:
        print(f"mailtui: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except MailtuiError as exc:
        print(f"mailtui: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_FAIL
    except BrokenPipeError:
        os._exit(0)
    except Exception as exc:  # never a bare traceback for the operator: say what happened, keep the details
        log = Path("/tmp") / f"mailtui-error-{os.getpid()}.log"
        log.write_text(traceback.format_exc())
        print(f"mailtui: internal error: {type(exc).__name__}: {exc} (details in {log})", file=sys.stderr)
        return EXIT_FAIL


if __name__ == "__main__":
    raise SystemExit(main())
