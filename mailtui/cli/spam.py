"""`mailtui spam`: the spam filter as rspamd reports it, and teaching it by hand.

  mailtui spam stats [--json]          scanned by action since rspamd's statistics began and in the last 24
                                       hours (rspamd's log), learned, the users held back by the hourly limit,
                                       the last messages refused or deferred with their scores and rules
  mailtui spam learn spam|ham FILE     teach rspamd that the message in FILE (as received) is spam or ham —
                                       what moving it into Junk, or out of it, does over IMAP
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from mailtui.api.operations import Operations
from mailtui.api.types import LEARN_KINDS, SpamStats
from mailtui.cli.common import EXIT_OK

HOURLY_WORDS = {"scanned": "scanned", "refused": "refused", "greylisted": "greylisted", "junked": "into Junk",
                "limited": "held by the hourly limit"}
ACTION_WORDS = {"no action": "clean", "greylist": "greylisted", "add header": "into Junk",
                "rewrite subject": "subject marked", "soft reject": "deferred", "reject": "refused"}
KIND_WORDS = {"refused": "refused", "greylisted": "greylisted", "junked": "into Junk", "limited": "deferred (limit)"}


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("spam", help="the spam filter: rspamd's counts (stats), teaching it (learn)")
    ssub = p.add_subparsers(dest="spam_command", required=True, metavar="{stats,learn}")
    q = ssub.add_parser("stats", help="messages scanned by action, learned, the last refused or deferred")
    q.add_argument("--json", action="store_true", help="as JSON")
    q.set_defaults(func=cmd_stats)
    q = ssub.add_parser("learn", help="teach rspamd that a message is spam or ham",
                        usage="mailtui spam learn spam|ham FILE")
    q.add_argument("kind", metavar="spam|ham", help=" or ".join(LEARN_KINDS))
    q.add_argument("file", metavar="FILE", help="the message as received (.eml, a maildir file)")
    q.set_defaults(func=cmd_learn)


def stats_text(s: SpamStats) -> str:
    counts = ", ".join(f"{s.actions[a]} {word}" for a, word in ACTION_WORDS.items() if s.actions.get(a))
    lines = [f"scanned: {s.scanned}" + (f" — {counts}" if counts else ""),
             f"learned: {s.learned} requests (the classifier holds {s.learned_spam} spam, {s.learned_ham} ham; "
             "it scores from 200 of each)"]
    if s.hourly:
        hours = len(next(iter(s.hourly.values()), []))
        lines.append(f"last {hours} h (rspamd's log): " + ", ".join(
            f"{sum(s.hourly.get(k, []))} {word}" for k, word in HOURLY_WORDS.items())
            + (f"; {s.refused_outbound} refused from logged-in users" if s.refused_outbound else ""))
    for held in s.limited:
        lines.append(f"held by the hourly limit: {held.user} ({held.times} time{'s' if held.times != 1 else ''}, last "
                     f"{time.strftime('%H:%M', time.localtime(held.last))})")
    if s.held:
        lines.append("last refused or deferred:")
        for h in s.held:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(h.time)) if h.time else "?"
            who = h.user and f"login {h.user}" or h.ip
            lines.append(f"  {when}  {KIND_WORDS.get(h.kind, h.action):<16} {h.score:g}/{h.required:g}  "
                         f"{h.sender or '<>'} -> {', '.join(h.recipients) or '?'}  ({who})")
            if h.subject:
                lines.append(f"      subject: {h.subject}")
            if h.rules:
                lines.append(f"      rules: {' '.join(h.rules)}")
    else:
        lines.append("nothing refused or deferred in rspamd's history")
    return "\n".join(lines) + "\n"


def cmd_stats(args: argparse.Namespace, ops: Operations) -> int:
    stats = ops.spam_stats()
    if args.json:
        print(json.dumps(stats.to_json(), indent=1))
    else:
        print(stats_text(stats), end="")
    return EXIT_OK


def cmd_learn(args: argparse.Namespace, ops: Operations) -> int:
    print(ops.spam_learn(args.kind, Path(args.file)))
    return EXIT_OK
