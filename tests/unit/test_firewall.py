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


def test_one_plan_reads_the_rules_once_and_a_new_one_reads_them_again(monkeypatch) -> None:
    """The rule resources of one plan/apply/verify share one `ufw show added`; the next phase's resources
    (made afresh) read it again, so a verify never trusts what an apply assumed."""
    reads: list[int] = []
    present = {"ufw allow 22/tcp comment 'mailtui SSH'"}

    def added() -> set[str]:
        reads.append(1)
        return set(present)

    monkeypatch.setattr(firewall, "added_rules", added)
    monkeypatch.setattr(firewall, "which", lambda _p: None)

    def rules() -> list[firewall.UfwRuleResource]:
        shared = firewall.AddedRules()
        return [firewall.UfwRuleResource(p, "x", shared) for p in (22, 25, 587)]

    first = rules()
    assert [r.pending(None) is None for r in first] == [True, False, False]  # type: ignore[arg-type]
    assert len(reads) == 1
    first[1].added.allowed(25)  # what apply() records after `ufw allow 25/tcp`
    assert first[1].pending(None) is None  # type: ignore[arg-type]
    assert len(reads) == 1
    again = rules()  # the verify's resources: 25 was never really added (the fake did not change)
    assert [r.pending(None) is None for r in again] == [True, False, False]  # type: ignore[arg-type]
    assert len(reads) == 2
