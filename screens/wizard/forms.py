"""The wizard's forms, one per install step (a module each: form_*.py), in the card's order. Each form fills
itself from Answers (`load`), writes its fields back into Answers (`store`), and checks its fields inline
with the answers model's own validators."""

from __future__ import annotations

from mailtui.screens.wizard.form import FormPane
from mailtui.screens.wizard.form_database import DatabaseForm
from mailtui.screens.wizard.form_dovecot import DovecotForm
from mailtui.screens.wizard.form_firewall import FirewallForm
from mailtui.screens.wizard.form_packages import PackagesForm
from mailtui.screens.wizard.form_postfix import PostfixForm
from mailtui.screens.wizard.form_tls import TlsForm
from mailtui.screens.wizard.form_users import UsersForm
from mailtui.screens.wizard.form_webmail import WebmailForm

FORMS: list[type[FormPane]] = [PackagesForm, DatabaseForm, PostfixForm, UsersForm, DovecotForm, TlsForm,
                               WebmailForm, FirewallForm]
