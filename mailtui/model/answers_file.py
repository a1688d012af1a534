"""The answers file: TOML in, TOML out. Wrong types and unknown keys are refused naming the field;
mailbox passwords are written only as hashes.

Versions: a file says `version = N` (mailtui writes VERSION); a file without it is version 1 (mailtui
before answers had a version). An older file is migrated on load, step by step (MIGRATIONS), and
saved again in the current version; a newer one is refused.

Features added since (FEATURES: section -> its on/off setting): a section missing from a file means
that feature stays *off* — an existing server never gains one by re-running the install with the answers
it saved, and a hand-written file switches a feature on only by saying so. The wizard's answers carry
every section (their defaults are what a new install offers).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import MISSING, fields, replace
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (Ubuntu 22.04)
    import tomli as tomllib  # type: ignore[no-redef]

from mailtui.errors import ValidationError
from mailtui.model.answers import (
    Alias,
    Answers,
    Database,
    Dkim,
    Domain,
    Firewall,
    Limits,
    Outbound,
    Security,
    Services,
    Spam,
    Srs,
    Tls,
    Updates,
    User,
    Webmail,
)
from mailtui.model.problems import canonical

_SECTIONS: dict[str, type] = {
    "database": Database,
    "tls": Tls,
    "firewall": Firewall,
    "services": Services,
    "outbound": Outbound,
    "limits": Limits,
    "security": Security,
    "dkim": Dkim,
    "srs": Srs,
    "spam": Spam,
    "webmail": Webmail,
    "updates": Updates,
}
_LISTS: dict[str, type] = {"domains": Domain, "users": User, "aliases": Alias}
_SCALARS = {"hostname": str, "profile": str}

VERSION = 5
# Features whose section a file must name to have them on: section -> (its on/off setting, the version that
# added it). The next issues add theirs here (spam filter, webmail, ACME certificates).
FEATURES: dict[str, tuple[str, int]] = {"dkim": ("enabled", 3), "srs": ("enabled", 3), "spam": ("enabled", 4),
                                       "webmail": ("enabled", 5), "updates": ("enabled", 5)}


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 (no `version` key): the same settings; version 2 only adds the key itself."""
    return data


def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """Version 3 adds [dkim] and [srs]; a version-2 file has neither, so both stay off for it (FEATURES)."""
    return data


def _v3_to_v4(data: dict[str, Any]) -> dict[str, Any]:
    """Version 4 adds [spam]; a version-3 file has none, so the filter stays off for it (FEATURES)."""
    return data


def _v4_to_v5(data: dict[str, Any]) -> dict[str, Any]:
    """Version 5 adds [webmail] and [updates]; a version-4 file has neither, so both stay off for it."""
    return data


# version N -> the function that turns a version-N document into a version-N+1 one
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4, 4: _v4_to_v5,
}


def _type_name(tp: Any) -> str:
    return {str: "a string", int: "an integer", bool: "true or false", float: "a number"}.get(tp, str(tp))


def _key(key: Any) -> str:
    """An unknown key as a field name: quoted unless plain, so it cannot pass for "file" or forge a line."""
    text = str(key)
    return text if re.fullmatch(r"[A-Za-z0-9_-]+", text) and text != "file" else repr(text)


def _build(cls: type, data: Any, where: str, problems: dict[str, str]) -> Any:
    if not isinstance(data, dict):
        problems[where] = "must be a table"
        return None
    kwargs: dict[str, Any] = {}
    known = {f.name: f for f in fields(cls)}
    for key, value in data.items():
        path = f"{where}.{_key(key)}"
        if key not in known:
            problems[path] = f"unknown setting (expected one of: {', '.join(known)})"
            continue
        tp = known[key].type
        if str(tp) == "tuple[str, ...]":
            if not isinstance(value, list):
                problems[path] = "must be a list of strings, e.g. [\"first\", \"second\"]"
            else:
                wrong = [i for i, item in enumerate(value) if not isinstance(item, str)]
                if wrong:
                    problems[f"{path}[{wrong[0]}]"] = "must be a string"
                else:
                    kwargs[key] = tuple(value)
            continue
        expected: tuple[type, ...] = {
            "str": (str,), "int": (int,), "bool": (bool,), "int | None": (int,), "float": (float, int),
        }.get(str(tp), (str,))
        if isinstance(value, bool) and bool not in expected:
            problems[path] = f"must be {_type_name(expected[0])}, not true/false"
        elif not isinstance(value, expected):
            problems[path] = f"must be {_type_name(expected[0])}"
        else:
            kwargs[key] = float(value) if str(tp) == "float" else value
    try:
        return cls(**kwargs)
    except TypeError:  # a required field is missing (or was refused above, which says why)
        missing = [f.name for f in fields(cls) if f.name not in kwargs and f.name not in data
                   and f.default is MISSING and f.default_factory is MISSING]
        if missing:
            problems[where] = f"missing {', '.join(missing)}"
        return None


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """A parsed document of any known version as a current one (without its `version` key)."""
    data = dict(data)
    version = data.pop("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValidationError({"version": f"must be a whole number from 1 to {VERSION}"})
    if version > VERSION:
        raise ValidationError({"version": f"{version}: the file was written by a newer mailtui (this one reads "
                                          f"answers up to version {VERSION}); update mailtui"})
    while version < VERSION:
        data = MIGRATIONS[version](data)
        version += 1
    return data


def from_dict(data: dict[str, Any]) -> Answers:
    """Build Answers from parsed TOML (of any known version); raise ValidationError for wrong types or unknown
    keys. A feature section the document does not name stays off (FEATURES)."""
    data = migrate(data)
    problems: dict[str, str] = {}
    answers = Answers()
    for section, (setting, _since) in FEATURES.items():
        if section not in data:
            setattr(answers, section, replace(getattr(answers, section), **{setting: False}))
    for key, value in data.items():
        if key in _SCALARS:
            if isinstance(value, str):
                setattr(answers, key, value)
            else:
                problems[key] = "must be a string"
        elif key in _SECTIONS:
            built = _build(_SECTIONS[key], value, key, problems)
            if built is not None:
                setattr(answers, key, built)
        elif key in _LISTS:
            if not isinstance(value, list):
                problems[key] = f"must be a list of tables ([[{key}]])"
                continue
            items = [_build(_LISTS[key], item, f"{key}[{i}]", problems) for i, item in enumerate(value)]
            setattr(answers, key, [i for i in items if i is not None])
        else:
            known = ["version", *_SCALARS, *_SECTIONS, *_LISTS]
            problems[_key(key)] = f"unknown setting (expected one of: {', '.join(known)})"
    if problems:
        raise ValidationError(problems)
    return answers


def loads(text: str) -> Answers:
    """Parse answers TOML; any problem is a ValidationError naming the field, or "file" with the line."""
    text = text.removeprefix("\ufeff")  # a byte-order mark, as some Windows editors write
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = f"at the end of the file, line {text.count(chr(10)) + 1}"
        raise ValidationError({"file": f"not valid TOML: {str(exc).replace('at end of document', where)}"}) from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise ValidationError({"file": "not valid TOML: arrays or tables are nested too deeply"}) from None
    return canonical(from_dict(data))


def load(path: Path) -> Answers:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError({"file": f"{path} does not exist"}) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError({"file": f"cannot read {path}: {exc}"}) from None
    return loads(text)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value)
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{"".join(_toml_char(c) for c in escaped)}"'


def _toml_char(c: str) -> str:
    if c.isprintable():
        return c
    if 0xD800 <= ord(c) <= 0xDFFF:  # a lone surrogate (undecodable bytes) has no TOML form
        return "\\ufffd"
    return f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"


def dumps(a: Answers, *, include_secrets: bool = True, keep_passwords: bool = False) -> str:
    """TOML text for the answers. Mailbox passwords are written only as hashes (keep_passwords is for
    handing the answers to the install worker through a pipe, never for a file)."""
    if not keep_passwords and any(u.password for u in a.users):
        a = a.with_hashed_passwords()
    lines = [f"version = {VERSION}", f"hostname = {_toml_value(a.hostname)}", f"profile = {_toml_value(a.profile)}"]
    for name in _SECTIONS:
        section = getattr(a, name)
        lines.append(f"\n[{name}]")
        for f in fields(section):
            value = getattr(section, f.name)
            if value is None or (f.name in ("root_user", "root_password")):
                continue  # the remote admin account is used once and never saved
            if not include_secrets and "password" in f.name:
                continue
            lines.append(f"{f.name} = {_toml_value(value)}")
    for name in _LISTS:
        for item in getattr(a, name):
            lines.append(f"\n[[{name}]]")
            for f in fields(item):
                value = getattr(item, f.name)
                if (value == "" and f.name in ("password", "password_hash")) or \
                        (f.name == "keep_password" and value is False):
                    continue
                lines.append(f"{f.name} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"
