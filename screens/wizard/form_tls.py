"""The SSL/TLS form: a self-signed certificate, or the operator's own files."""

from __future__ import annotations

from dataclasses import replace

from mailtui.screens.widgets.fields import FieldRow
from mailtui.screens.widgets.toggles import RadioButton
from mailtui.screens.wizard.form import (
    FormPane,
    path_check,
)
from textual import on
from textual.app import ComposeResult
from textual.widgets import RadioSet

from mailtui.api.types import Preflight
from mailtui.model.answers import Answers


class TlsForm(FormPane):
    stage = "tls"
    heading = "6 · SSL/TLS"
    step_name = "tls"

    def compose(self) -> ComposeResult:
        yield from self.compose_head()
        with RadioSet(id="tls-mode", compact=True):
            yield RadioButton("Self-signed certificate, made now (replace it later)", True, id="tls-self-signed")
            yield RadioButton("Certificate and key files I already have", id="tls-files")
        yield FieldRow("Certificate", "tls.cert", problem=path_check, placeholder="/etc/ssl/…/fullchain.pem")
        yield FieldRow("Private key", "tls.key", problem=path_check, placeholder="/etc/ssl/…/privkey.pem")

    @property
    def mode(self) -> str:
        return "files" if self.query_one("#tls-files", RadioButton).value else "self-signed"

    def _sync(self) -> None:
        for f in self.fields():
            f.input.disabled = self.mode != "files"
            if f.input.disabled:
                f.show_error(None)

    def load(self, a: Answers, pf: Preflight | None = None) -> None:
        self.query_one("#tls-files" if a.tls.mode == "files" else "#tls-self-signed", RadioButton).value = True
        for f in self.fields():
            f.value = getattr(a.tls, f.key.split(".")[1])
        self._sync()

    @on(RadioSet.Changed)
    def mode_changed(self) -> None:
        self._sync()

    def store(self, a: Answers) -> Answers:
        if self.mode == "files":
            cert, key = (f.value.strip() for f in self.fields())
            return replace(a, tls=replace(a.tls, mode="files", cert=cert, key=key))
        return replace(a, tls=replace(a.tls, mode="self-signed", cert="", key=""))
