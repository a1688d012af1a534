"""The engine's data types (and the pure checks) the front ends use: one import place for cli/ and screens/.
The policy facts (ports, TLS minimum, Postfix's lookup maps) too, so that help texts read them from mailtui.policy."""

from __future__ import annotations

from mailtui.api.operations import StepInfo, StepPlan
from mailtui.install.plan import CheckedAnswers
from mailtui.install.preflight import PortStatus, Preflight
from mailtui.install.rollback import Action as RollbackAction
from mailtui.install.rollback import Result as RollbackResult
from mailtui.install.state import InstallState
from mailtui.ops.account_types import (
    MAX_PAGE,
    AliasRow,
    AlreadyExists,
    DomainRow,
    NotFound,
    RemovalSummary,
    UserRow,
)
from mailtui.ops.accounts_import import ImportFileError, ImportReport, Rejected
from mailtui.ops.acme_dns import AcmeDnsCheck
from mailtui.ops.certificate import CertificateStatus
from mailtui.ops.check import CheckResult
from mailtui.ops.dkim import KeyStatus as DkimKeyStatus
from mailtui.ops.dns import ClientSetting, DnsRecord, DnsReport
from mailtui.ops.dns_check import DnsCheck, RecordCheck
from mailtui.ops.logs import LogQuery, LogSource
from mailtui.ops.maildirs import MaildirStats
from mailtui.ops.queue import QueueAction
from mailtui.ops.services import STACK, VERBS, ServiceStatus
from mailtui.ops.spam import LEARN_KINDS, Limited, Scan, SpamStats
from mailtui.policy.maps import MAPS as LOOKUP_MAPS
from mailtui.policy.ports import MANAGESIEVE_ADDRESS, MANAGESIEVE_PORT, PORTS, WEB_PORTS, Port
from mailtui.policy.tls import MIN_PROTOCOL as TLS_MIN_PROTOCOL
from mailtui.report import Change, Check
from mailtui.stack.logparse import OUTCOMES, SUMMARY_OUTCOMES, LogEvent, queue_id_of_session
from mailtui.stack.rspamd_log import SERIES as SPAM_SERIES
from mailtui.steps.fail2ban import LOOPBACK as NEVER_BANNED
from mailtui.system.fail2ban import Ban, JailStatus
from mailtui.system.postqueue import QueuedMessage, check_queue_id

__all__ = [
    "MAX_PAGE", "NEVER_BANNED", "OUTCOMES", "STACK", "SUMMARY_OUTCOMES", "VERBS", "AliasRow", "AlreadyExists", "Ban",
    "AcmeDnsCheck", "CertificateStatus", "Change", "Check",
    "CheckResult", "CheckedAnswers", "ClientSetting", "DkimKeyStatus", "DnsCheck", "DnsRecord", "DnsReport",
    "DomainRow",
    "ImportFileError", "ImportReport", "RecordCheck",
    "InstallState", "JailStatus", "LogEvent", "LogQuery", "LogSource", "MaildirStats", "NotFound", "PortStatus",
    "Preflight", "QueueAction", "QueuedMessage", "Rejected", "RemovalSummary", "RollbackAction", "RollbackResult",
    "ServiceStatus", "SpamStats", "SPAM_SERIES", "LEARN_KINDS", "Limited", "Scan",
    "StepInfo", "StepPlan", "UserRow", "check_queue_id",
    "queue_id_of_session",
    "LOOKUP_MAPS", "PORTS", "Port", "TLS_MIN_PROTOCOL",  # policy facts (mailtui.policy), e.g. for help texts
    "MANAGESIEVE_ADDRESS", "MANAGESIEVE_PORT", "WEB_PORTS",
]
