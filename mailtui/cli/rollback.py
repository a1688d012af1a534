"""`mailtui rollback [--dry-run] [--yes]`: put back every file the installer changed (see rollback.py).

Lists what it will do (restore, remove, delete; what it leaves alone and why), asks, then does it.
Exit codes: 0 done (or nothing to do), 1 something could not be restored or a service did not start
again (named), or declined (no terminal to ask on without --yes), 3 an install is running.
"""

from __future__ import annotations

import argparse
import sys

from mailtui import paths
from mailtui.api.operations import Operations
from mailtui.cli.common import EXIT_FAIL, EXIT_OK, confirm

LEFT_ALONE = (
    "Left alone: the installed packages (remove them with apt if you want), the database and MariaDB "
    "(tables, accounts, mailboxes' rows), and the stored mail."
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("rollback", help="put back every file the installer changed, from its backups")
    p.add_argument("--dry-run", action="store_true", help="list what would be restored and change nothing")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask before rolling back")
    p.set_defaults(func=cmd_rollback)
    return p


def cmd_rollback(args: argparse.Namespace, ops: Operations) -> int:
    actions = ops.rollback_plan()
    if not actions:
        print(f"nothing to roll back: mailtui has recorded no changes on this machine ({paths.BACKUPS_DIR})")
        return EXIT_OK
    todo = [a for a in actions if a.changes]
    print(f"mailtui rollback: {len(todo)} change{'' if len(todo) == 1 else 's'} to undo" +
          (":" if actions else " (every recorded file is as it was already)"))
    for action in actions:
        print(f"  {action.summary}" if action.changes else f"  ({action.summary})")
    print("Services: Postfix, Dovecot and fail2ban are stopped, then started again on the restored "
          "configuration if they ran before mailtui.")
    print(LEFT_ALONE)
    if args.dry_run:
        print("\n(dry run: nothing was changed)")
        return EXIT_OK
    if not confirm("Roll back these changes?", args.yes):
        print("nothing changed")
        return EXIT_FAIL
    result = ops.rollback(actions, lambda line: print(f"    {line}", flush=True))
    print(f"\nrolled back {len(result.done)} change{'' if len(result.done) == 1 else 's'}; the replaced files "
          f"and mailtui's state are kept in {result.archive}")
    for problem in result.problems:
        print(f"mailtui: {problem}", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_FAIL
