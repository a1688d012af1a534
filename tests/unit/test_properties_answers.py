"""Property tests of the answers file: valid answers survive dumps -> loads unchanged; random, malformed
and wrongly-typed TOML is refused with a ValidationError naming the field (or the file and its line),
never a KeyError/TypeError/AttributeError; loading never changes the file."""

from __future__ import annotations

import datetime
import math
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailtui.errors import MailtuiError, ValidationError
from mailtui.model import answers_file, passwords
from mailtui.model import problems as problems_mod
from mailtui.model.answers import (
    Alias,
    Answers,
    Database,
    Domain,
    Firewall,
    Limits,
    Outbound,
    Services,
    Tls,
    User,
    Webmail,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOP_LEVEL = {"version", "hostname", "profile", "database", "tls", "firewall", "services", "outbound", "limits",
             "security", "dkim", "srs", "spam", "webmail", "updates", "domains", "users", "aliases"}
# One hash for every generated user with a stored hash: hashing is slow, and any valid hash will do.
A_HASH = passwords.hash_password("a stored password")

# ---------------------------------------------------------------- valid answers, written as an operator might

NO_TLS = os.path.join(tempfile.gettempdir(), "mailtui-no-such-tls")


def _case(draw: st.DrawFn, text: str) -> str:
    return "".join(c.upper() if draw(st.booleans()) else c for c in text)


def _pad(draw: st.DrawFn, text: str) -> str:
    return draw(st.sampled_from(["", " ", "\t"])) + text + draw(st.sampled_from(["", " ", "\n"]))


label = st.from_regex(r"[a-z]([a-z0-9-]{0,12}[a-z0-9])?", fullmatch=True).filter(lambda s: not s.startswith("xn--"))
domain_name = st.one_of(
    st.builds(lambda a, b: f"{a}.{b}", label, st.sampled_from(["org", "example", "test", "de"])),
    st.sampled_from(["bücher.example", "пример.испытание", "例え.テスト", "xn--fa-hia.de"]),
)
local_part = st.from_regex(r"[a-z0-9]([a-z0-9._+-]{0,10}[a-z0-9])?", fullmatch=True).filter(lambda s: ".." not in s)
identifier = st.from_regex(r"[A-Za-z0-9_]{1,20}", fullmatch=True)
secret = st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="\"'\\#%{}$`;"),
                 min_size=12, max_size=40)
mailbox_password = st.text(st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp", "Cf", "Co", "Cn")),
                           min_size=8, max_size=40).filter(lambda p: p == p.strip() and p.isprintable())


@st.composite
def valid_answers(draw: st.DrawFn) -> Answers:
    """Answers that check() must accept (names in random case and padding, IDN in U-label or A-label form)."""
    names = draw(st.lists(domain_name, min_size=1, max_size=3,
                          unique_by=lambda d: d.encode("idna").decode()))
    canonical = [d.encode("idna").decode() for d in names]
    hostname = "mail." + names[0]
    if hostname.encode("idna").decode() in canonical:
        hostname = "mx1." + names[0]
    users: list[User] = []
    mailboxes: list[str] = []
    for local in draw(st.lists(local_part, max_size=3, unique=True)):
        i = draw(st.integers(0, len(names) - 1))
        mailboxes.append(f"{local}@{canonical[i]}")
        email = _pad(draw, _case(draw, f"{local}@{names[i]}"))
        if draw(st.booleans()):
            users.append(User(email, password=draw(mailbox_password)))
        else:
            stored = draw(st.sampled_from([A_HASH, A_HASH.removeprefix("{SHA512-CRYPT}")]))
            users.append(User(email, password_hash=stored))
    aliases: list[Alias] = []
    seen: set[tuple[str, str]] = set()
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(names) - 1))
        source = draw(st.one_of(st.just("@" + names[i]), local_part.map(lambda lp, d=names[i]: f"{lp}@{d}")))
        destination = draw(st.sampled_from(mailboxes)) if mailboxes and draw(st.booleans()) else "friend@elsewhere.net"
        key = (source.encode("idna").decode() if source.startswith("@") else
               source.split("@")[0] + "@" + source.split("@")[1].encode("idna").decode(), destination)
        if key in seen or key[0] in mailboxes or key[0] == destination:
            continue
        seen.add(key)
        aliases.append(Alias(_case(draw, source), destination))
    user = draw(identifier)
    relayhost = draw(st.sampled_from(["", "", "smtp.relay.example", "[Smtp.Relay.Example]:587", "[10.0.0.9]:2525"]))
    with_login = bool(relayhost) and draw(st.booleans())
    tls_files = draw(st.booleans())
    db_host = draw(st.sampled_from(["127.0.0.1", "localhost", "::1", "DB.Example.NET", "10.1.2.3"]))
    return Answers(
        hostname=_pad(draw, _case(draw, hostname)),
        profile="test" if relayhost and draw(st.booleans()) else "production",
        database=Database(
            host=db_host,
            port=draw(st.integers(1, 65535)), name=draw(identifier), user=user,
            admin_user=draw(identifier.filter(lambda u: u != user)),
            password=draw(st.one_of(st.just(""), secret)), admin_password=draw(st.one_of(st.just(""), secret)),
        ),
        # Files that do not exist, outside the machine's state (whether they exist is checked on load).
        tls=Tls("files", f"{NO_TLS}/mail.pem", f" {NO_TLS}/private/mail.key") if tls_files else Tls(),
        firewall=Firewall(enable=draw(st.booleans()), ssh_port=draw(st.one_of(st.none(), st.integers(1, 65535)))),
        services=Services(pop3=draw(st.booleans()), submissions=draw(st.booleans())),
        outbound=Outbound(relayhost, "apikey" if with_login else "", draw(secret) if with_login else ""),
        limits=Limits(draw(st.integers(1, 2048))),
        # Roundcube's database lives in the local MariaDB: the webmail only with a local database.
        webmail=Webmail(enabled=Database(host=db_host).is_local and draw(st.booleans())),
        domains=[Domain(_pad(draw, _case(draw, n))) for n in names],
        users=users,
        aliases=aliases,
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=valid_answers())
def test_valid_answers_round_trip(raw: Answers) -> None:
    a = problems_mod.check(raw, check_files=False)
    assert problems_mod.canonical(a) == a
    assert problems_mod.check(a, check_files=False) == a
    text = answers_file.dumps(a, keep_passwords=True)
    again = problems_mod.check(answers_file.loads(text), check_files=False)
    assert again == a
    assert answers_file.dumps(again, keep_passwords=True) == text


@settings(max_examples=25, deadline=None)
@given(raw=valid_answers())
def test_saved_answers_hold_only_hashes_that_verify(raw: Answers) -> None:
    a = problems_mod.check(raw, check_files=False)
    text = answers_file.dumps(a)
    saved = problems_mod.check(answers_file.loads(text), check_files=False)
    for before, after in zip(a.users, saved.users, strict=True):
        assert after.email == before.email and after.password == ""
        if before.password:
            assert passwords.verify_password(before.password, after.password_hash)


# ---------------------------------------------------------------- any text in any field survives the file


no_surrogates = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)


@st.composite
def answers_of_any_text(draw: st.DrawFn) -> Answers:
    t = no_surrogates
    return Answers(
        hostname=draw(t), profile=draw(t),
        database=Database(draw(t), draw(st.integers(-(2**63), 2**63 - 1)), draw(t), draw(t), draw(t), draw(t), draw(t)),
        tls=Tls(draw(t), draw(t), draw(t)),
        firewall=Firewall(draw(st.booleans()), draw(st.one_of(st.none(), st.integers(-5, 70000)))),
        services=Services(draw(st.booleans()), draw(st.booleans())),
        outbound=Outbound(draw(t), draw(t), draw(t)),
        limits=Limits(draw(st.integers(-(2**63), 2**63 - 1))),
        domains=[Domain(n) for n in draw(st.lists(t, max_size=2))],
        users=[User(e, p, h) for e, p, h in draw(st.lists(st.tuples(t, t, t), max_size=2))],
        aliases=[Alias(s, d) for s, d in draw(st.lists(st.tuples(t, t), max_size=2))],
    )


@SETTINGS
@given(a=answers_of_any_text())
def test_any_text_survives_dumps_and_loads(a: Answers) -> None:
    """Quotes, backslashes, control characters, non-BMP characters: what is saved is what is loaded."""
    loaded = answers_file.loads(answers_file.dumps(a, keep_passwords=True))
    assert loaded == problems_mod.canonical(a)
    found = problems_mod.problems(loaded, check_files=False)  # never raises, whatever the values
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in found.items())


def test_a_lone_surrogate_is_saved_as_a_replacement_character() -> None:
    loaded = answers_file.loads(answers_file.dumps(Answers(hostname="mail\udcff.example")))
    assert loaded.hostname == "mail\ufffd.example"


# ---------------------------------------------------------------- wrong types and garbage


def _toml_string(text: str) -> str:
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif c.isprintable() and not ("\ud800" <= c <= "\udfff"):
            out.append(c)
        else:
            out.append(f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}")
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(data: dict[str, Any]) -> str:
    return "".join(f"{_toml_string(k)} = {toml_value(v)}\n" for k, v in data.items())


FIELD_NAMES = sorted(TOP_LEVEL | {"host", "port", "name", "user", "password", "admin_user", "admin_password",
                                  "root_user", "mode", "cert", "key", "enable", "ssh_port", "pop3", "submissions",
                                  "relayhost", "message_size_mb", "fail2ban", "max_retry", "find_time", "ban_time",
                                  "ignore", "enabled", "email", "password_hash", "source", "destination"})
keys = st.one_of(st.sampled_from(FIELD_NAMES), st.text(st.characters(exclude_categories=("Cs",)), max_size=8))
scalars = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=12), st.integers(-(2**63), 2**63 - 1), st.booleans(),
    st.floats(), st.sampled_from(["3306", "true", "", "example.org", "alice@example.org", "' OR 1=1 --"]),
    st.dates(), st.times(),
)
toml_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=4)), max_leaves=12)


def plausible_structure() -> st.SearchStrategy[dict[str, Any]]:
    """Known sections with known and unknown keys, values of any type: ints as strings, lists as strings…"""
    section = st.dictionaries(keys, toml_values, max_size=5)
    return st.dictionaries(
        keys, st.one_of(toml_values, section, st.lists(section, max_size=3)), max_size=6)


def assert_refused_by_field(exc: MailtuiError, top_level: set[str]) -> None:
    assert isinstance(exc, ValidationError), exc
    assert exc.problems
    for field, message in exc.problems.items():
        assert isinstance(message, str) and message.strip(), field
        head = field.split("[", 1)[0].split(".", 1)[0]
        known = field == "file" or head in top_level or field in top_level
        assert known or message.startswith("unknown setting"), (field, message)


def load_or_refuse(text: str, top_level: set[str]) -> Answers | None:
    try:
        loaded = answers_file.loads(text)
    except ValidationError as exc:
        assert_refused_by_field(exc, top_level | TOP_LEVEL)
        if "file" in exc.problems:
            message = exc.problems["file"]
            assert "line" in message or "nested" in message, message
        return None
    try:
        return problems_mod.check(loaded, check_files=False)
    except ValidationError as exc:
        assert_refused_by_field(exc, TOP_LEVEL)
        return None


@SETTINGS
@given(data=plausible_structure())
def test_wrongly_typed_toml_is_refused_by_field(data: dict[str, Any]) -> None:
    load_or_refuse(toml_document(data), set(data))


@settings(max_examples=100, deadline=None)
@given(data=plausible_structure())
def test_from_dict_with_any_python_values(data: dict[str, Any]) -> None:
    """from_dict() may be handed data that did not come from TOML (None, tuples, bytes)."""
    data = {**data, **{k: v for k, v in [("hostname", None), ("limits", {"message_size_mb": None})] if k not in data}}
    try:
        loaded = answers_file.from_dict(data)
    except ValidationError as exc:
        assert_refused_by_field(exc, set(data))
        return
    try:
        problems_mod.check(loaded, check_files=False)
    except ValidationError as exc:
        assert_refused_by_field(exc, TOP_LEVEL)


@SETTINGS
@given(text=st.one_of(st.text(), st.text(st.sampled_from(list('[]{}="\'\\.,#\n \t=aZ09-_:')), max_size=60)))
def test_random_text_is_refused_cleanly(text: str) -> None:
    load_or_refuse(text, set())


@st.composite
def damaged_file(draw: st.DrawFn) -> str:
    """A valid answers file with a few lines broken the way an editor slip would."""
    checked = problems_mod.check(draw(valid_answers()), check_files=False)
    lines = answers_file.dumps(checked, keep_passwords=True).splitlines()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        how = draw(st.sampled_from(["delete-char", "insert", "duplicate", "drop-quote", "retype"]))
        line = lines[i]
        j = draw(st.integers(0, len(line)))
        if how == "delete-char" and line:
            lines[i] = line[:max(j - 1, 0)] + line[j:]
        elif how == "insert":
            lines[i] = line[:j] + draw(st.sampled_from(list("[]{}=\"'\\#,.\t") + ["\u00a0", "\x00", "\r"])) + line[j:]
        elif how == "duplicate":
            lines.insert(i, line)
        elif how == "drop-quote":
            lines[i] = line.replace('"', "", 1)
        elif how == "retype" and " = " in line:
            key, _, value = line.partition(" = ")
            lines[i] = f"{key} = " + draw(st.sampled_from(['"3306"', "3306", "true", "[1, 2]", "{a = 1}", '""',
                                                           "1979-05-27", value.strip('"')]))
    return "\n".join(lines) + "\n"


@FEWER
@given(text=damaged_file())
def test_damaged_files_are_refused_by_field_or_line(text: str) -> None:
    load_or_refuse(text, set())


@FEWER
@given(content=st.one_of(st.binary(max_size=200), damaged_file().map(str.encode),
                         st.text(max_size=100).map(lambda t: t.encode("utf-16"))))
def test_load_never_changes_the_file(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mail.toml"
        path.write_bytes(content)
        os.chmod(path, 0o640)
        before = path.stat()
        try:
            answers_file.load(path)
        except ValidationError as exc:
            assert_refused_by_field(exc, TOP_LEVEL)
        after = path.stat()
        assert path.read_bytes() == content
        assert (after.st_mtime_ns, after.st_mode, after.st_size) == (before.st_mtime_ns, before.st_mode,
                                                                      before.st_size)
        assert sorted(os.listdir(tmp)) == ["mail.toml"]



def short_id(value: object) -> str:
    text = ascii(value)
    return text if len(text) <= 32 else f"{text[:24]}…({len(text)})"

# ---------------------------------------------------------------- known cases


@pytest.mark.parametrize("text,field,words", ids=short_id, argvalues=[
    ("x = " + "[" * 5000, "file", "nested too deeply"),  # tomllib recursed: RecursionError escaped
    ("a = " + "{b = " * 3000, "file", "nested too deeply"),
    ('hostname = "mail.example.org"\nhostname = "x"\n', "file", "line 2"),
    ("hostname = ", "file", "line 1"),  # tomllib says "at end of document"
    ('[[users]]\nemail = 5\n', "users[0].email", "must be a string"),
    ('[database]\nport = "3306"\n', "database.port", "must be an integer"),
    ('domains = "example.org"\n', "domains", "list of tables"),
    ('[domains]\nname = "example.org"\n', "domains", "list of tables"),
    ('domains = ["example.org"]\n', "domains[0]", "must be a table"),
    ('[[aliases]]\nsource = "a@b.org"\n', "aliases[0]", "missing destination"),
    ('[tls]\nmode = "files"\ncert = "/etc/my cert.pem"\nkey = "/k.pem"\n', "tls.cert", "spaces"),
    ('[outbound]\nrelayhost = "smtp.example.org"\nuser = "a:b"\npassword = "secret"\n', "outbound.user", "':'"),
    ('[outbound]\nrelayhost = "smtp.example.org:١٢"\n', "outbound.relayhost", "host:port"),
    ('[database]\npassword = "abcdefghijkl;"\n', "database.password", "';'"),
    ('[[domains]]\nname = "a\\n.org"\n', "domains[0].name", "not a valid domain name"),
])
def test_refused_with_field_and_reason(text: str, field: str, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        problems_mod.check(answers_file.loads(text), check_files=False)
    assert words in info.value.problems[field], info.value.problems


def test_a_wrongly_typed_required_field_is_reported_once() -> None:
    with pytest.raises(ValidationError) as info:
        answers_file.loads('[[users]]\nemail = 5\n')
    assert info.value.problems == {"users[0].email": "must be a string"}


def test_a_byte_order_mark_is_ignored() -> None:
    a = answers_file.loads('\ufeffhostname = "Mail.Example.org"\n')
    assert a.hostname == "mail.example.org"


def test_idn_and_mixed_case_are_stored_as_a_labels_everywhere() -> None:
    text = ('hostname = "Mail.Bücher.Example"\n[database]\nhost = "DB.Bücher.Example"\n'
            '[outbound]\nrelayhost = "[Relay.Bücher.Example]:0587"\n'
            '[[domains]]\nname = "BÜCHER.example."\n[[users]]\nemail = "Alice@Bücher.Example"\npassword = "p4ssword"\n'
            '[[aliases]]\nsource = "@bücher.example"\ndestination = "alice@xn--bcher-kva.example"\n')
    a = problems_mod.check(answers_file.loads(text), check_files=False)
    assert a.hostname == "mail.xn--bcher-kva.example"
    assert a.database.host == "db.xn--bcher-kva.example"
    assert a.outbound.relayhost == "[relay.xn--bcher-kva.example]:587"
    assert a.domain_names == ["xn--bcher-kva.example"]
    assert a.users[0].email == "alice@xn--bcher-kva.example"
    assert a.aliases == [Alias("@xn--bcher-kva.example", "alice@xn--bcher-kva.example")]


def test_values_of_the_wrong_python_type_are_problems_not_crashes() -> None:
    """The screens build Answers in code: a wrong type there is a problem, not an exception."""
    a = replace(Answers(), hostname=None, database=replace(Database(), host=5, name=None),  # type: ignore[arg-type]
                limits=Limits("50"))  # type: ignore[arg-type]
    a = replace(a, domains=[Domain(["x"])], users=[User({"e": 1}, password_hash=[1])],  # type: ignore[arg-type]
                aliases=[Alias(["s"], None)])  # type: ignore[arg-type]
    found = problems_mod.problems(problems_mod.canonical(a), check_files=False)
    assert found["domains[0].name"] == found["users[0].email"] == found["aliases[0].source"] == "must be text"
    assert "SHA512-CRYPT" in found["users[0].password_hash"]
    assert found["hostname"] == "must be text"
    assert found["database.host"] == "must be text"
    assert found["database.name"] == "must be text"
    assert "between 1 and 2048" in found["limits.message_size_mb"]
