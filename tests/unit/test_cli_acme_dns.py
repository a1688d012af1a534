"""`mailtui install` in ACME mode says, before the plan, whether DNS points the hostname here (cli/install.py
print_acme_dns): a pass, a warning that does not stop the install, and DNS that was not asked."""

from __future__ import annotations

import pytest

from mailtui.cli.install import print_acme_dns
from mailtui.errors import ValidationError
from mailtui.model import answers_file
from mailtui.ops.acme_dns import AcmeDnsCheck

ANSWERS = answers_file.loads('hostname = "mail.example.test"\n[tls]\nmode = "acme"\nemail = "h@example.test"\n')


class Ops:
    def __init__(self, result: AcmeDnsCheck | Exception) -> None:
        self.result = result

    def acme_dns_check(self, answers, server=None):  # noqa: ANN001, ANN201
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def test_says_where_the_hostname_points(capsys: pytest.CaptureFixture[str]) -> None:
    print_acme_dns(Ops(AcmeDnsCheck("mail.example.test", "198.18.0.2", True, ("A 203.0.113.5: this machine",))),
                   ANSWERS)  # type: ignore[arg-type]
    out = capsys.readouterr()
    assert "ACME: mail.example.test points at this machine (asked 198.18.0.2)" in out.out and not out.err

    elsewhere = AcmeDnsCheck("mail.example.test", "198.18.0.2", False, ("has A 192.0.2.1, this machine is …",))
    print_acme_dns(Ops(elsewhere), ANSWERS)  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert "ACME: warning: the CA will not be able to reach this machine (asked 198.18.0.2):" in err
    assert "has A 192.0.2.1" in err and "the install goes on" in err

    silent = AcmeDnsCheck("mail.example.test", "198.18.0.2", False, ("DNS did not answer",), answered=False)
    print_acme_dns(Ops(silent), ANSWERS)  # type: ignore[arg-type]
    assert "not known whether the CA can reach this machine" in capsys.readouterr().err

    print_acme_dns(Ops(ValidationError({"server": "no nameserver in /etc/resolv.conf"})), ANSWERS)  # type: ignore[arg-type]
    assert "where mail.example.test points was not checked" in capsys.readouterr().err
