"""The order the engine applies the steps in.

Dependency order: packages, database, tls (a certificate exists before a service needs it), acme (the CA's
certificate, when the answers ask for one, before Postfix and Dovecot are pointed at it), resolver (unbound
answers before the machine, rspamd and postscreen ask it), spam (Redis answers
and the Sieve script is compiled before rspamd and Dovecot are pointed at them), dkim (rspamd, the owner of
every rspamd file, listens before Postfix names it as its milter), srs (postsrsd answers before Postfix's
canonical maps ask it), postfix, dovecot, webmail (Roundcube logs in to the running Dovecot and Postfix; its
database after the database step, once MariaDB runs), updates (unattended-upgrades),
firewall, fail2ban (its jails read the mail log Postfix and
Dovecot write; its bans sit in front of the firewall's rules), verify.
"""

from __future__ import annotations

from mailtui.steps.acme import AcmeStep
from mailtui.steps.base import Step
from mailtui.steps.database import DatabaseStep
from mailtui.steps.dkim import DkimStep
from mailtui.steps.dovecot import DovecotStep
from mailtui.steps.fail2ban import Fail2banStep
from mailtui.steps.firewall import FirewallStep
from mailtui.steps.packages import PackagesStep
from mailtui.steps.postfix import PostfixStep
from mailtui.steps.resolver import ResolverStep
from mailtui.steps.spam import SpamStep
from mailtui.steps.srs import SrsStep
from mailtui.steps.tls import TlsStep
from mailtui.steps.updates import UpdatesStep
from mailtui.steps.verify import VerifyStep
from mailtui.steps.webmail import WebmailStep

ENGINE_ORDER = ("packages", "database", "tls", "acme", "resolver", "spam", "dkim", "srs", "postfix", "dovecot",
                "webmail", "updates", "firewall", "fail2ban", "verify")


def all_steps() -> list[Step]:
    """Every step, in ENGINE_ORDER."""
    steps: list[Step] = [PackagesStep(), DatabaseStep(), TlsStep(), AcmeStep(), ResolverStep(), SpamStep(), DkimStep(),
                         SrsStep(), PostfixStep(), DovecotStep(), WebmailStep(), UpdatesStep(), FirewallStep(),
                         Fail2banStep(), VerifyStep()]
    assert tuple(s.name for s in steps) == ENGINE_ORDER
    return steps
