from __future__ import annotations

from mailtui.model import answers_file
from mailtui.steps import firewall

TEXT = 'hostname = "mail.example.test"\n[services]\npop3 = true\n'


def test_ssh_port_of_this_session_comes_first(monkeypatch) -> None:
    monkeypatch.setattr(firewall, "which", lambda _p: None)  # no sshd here
    a = answers_file.loads(TEXT)
    assert firewall.ssh_ports(a, {"SSH_CONNECTION": "198.18.0.1 50000 198.18.0.2 2222"}) == [2222]
    assert firewall.ssh_ports(a, {}) == [22]


def test_mail_ports_follow_services() -> None:
    ports = [p for p, _ in firewall.mail_ports(answers_file.loads(TEXT))]
    assert ports == [25, 587, 465, 993, 995]
