"""The shape of the code, enforced: packages depend downward only, no import cycle between modules, imports
at the top (a lazy one only where it must be, marked), the engine never imports Textual, no module too long.

Layers, bottom to top (README "Architecture"):
  foundation  mailtui.{errors, events, faults, paths, format, report}: import nothing of mailtui
  system      mailtui.system: the only code that touches the machine; imports only errors/paths/faults
  model       mailtui.model: the answers, their checks and file; pure
  policy      mailtui.policy: the stack's policy as data (TLS, ports, Postfix maps)
  stack       mailtui.stack: talking to the running stack, shared by steps and operations
  steps       mailtui.steps: one module per install step (never install/ or cli/)
  install     mailtui.install: plan, worker, state, preflight, rollback
  ops         mailtui.ops: day-to-day operations
  api         mailtui.api: the one typed operations API
  front ends  mailtui.cli and mailtui.screens: only api, model and foundation of the engine; screens never cli
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests import guard

ROOT = Path(__file__).resolve().parents[2]
FOUNDATION = {"mailtui", "mailtui.errors", "mailtui.events", "mailtui.faults", "mailtui.paths", "mailtui.format",
              "mailtui.report"}
LAYERS = ["foundation", "system", "model", "policy", "stack", "steps", "install", "ops", "api", "cli", "screens"]
# Which layers each layer may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "foundation": set(),
    "system": {"foundation"},
    "model": {"foundation"},
    "policy": {"foundation", "model"},
    "stack": {"foundation", "system", "model", "policy"},
    "steps": {"foundation", "system", "model", "policy", "stack"},
    "install": {"foundation", "system", "model", "policy", "stack", "steps"},
    "ops": {"foundation", "system", "model", "policy", "stack", "steps", "install"},
    "api": {"foundation", "system", "model", "policy", "stack", "steps", "install", "ops"},
    "cli": {"foundation", "model", "api"},
    "screens": {"foundation", "model", "api"},
}
# system may use only these foundation modules (the fault hooks included)
SYSTEM_FOUNDATION = {"mailtui", "mailtui.errors", "mailtui.paths", "mailtui.faults"}
LAZY_MARK = "# lazy:"  # an import inside a function must say why it is lazy
MAX_LINES = 450
LONG_MODULES: dict[str, str] = {  # module -> why it may be longer than MAX_LINES
    "mailtui.model.validate": "one rule per kind of value, each with its canonical form, its problem and its "
                              "check_*: the answers, the accounts and the forms read the same rules from one place",
    "mailtui.stack.lmtp_quiesce": "one protocol (pause Postfix's LMTP deliveries, drain, restart Dovecot, restore, "
                                  "repair after a kill) whose steps share the marker, the lock and the helpers its "
                                  "unit tests replace as one module",
}


def module_files() -> dict[str, Path]:
    found = {}
    for base, prefix in ((ROOT / "mailtui", ("mailtui",)), (ROOT / "screens", ("mailtui", "screens"))):
        for path in base.rglob("*.py"):
            parts = path.relative_to(base).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(prefix + parts)] = path
    return found


MODULES = module_files()


def layer_of(module: str) -> str:
    if module in FOUNDATION or module == "mailtui.__main__":
        return "cli" if module == "mailtui.__main__" else "foundation"
    part = module.split(".")[1]
    if part == "assets":
        return "foundation"
    assert part in LAYERS, f"{module}: a package the architecture does not know ({part})"
    return part


def imports_of(module: str) -> list[tuple[str, int, bool, str]]:
    """(imported mailtui module, line, inside a function, the source line) of every import in `module`."""
    path = MODULES[module]
    text = path.read_text()
    lines = text.splitlines()
    tree = ast.parse(text, str(path))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: list[tuple[str, int, bool, str]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - child.level + 1] + ([base] if base else []))
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    targets.append(full if full in MODULES else base)
            for target in targets:
                if target == "mailtui" or target.startswith("mailtui."):
                    found.append((target, child.lineno, in_function, lines[child.lineno - 1]))
            visit(child, nested)

    visit(tree, False)
    return found


def test_every_module_belongs_to_a_layer() -> None:
    assert {layer_of(m) for m in MODULES} <= set(LAYERS)


def test_packages_depend_downward_only() -> None:
    breaks = []
    for module in MODULES:
        mine = layer_of(module)
        for target, line, in_function, _ in imports_of(module):
            theirs = layer_of(target)
            if theirs == mine:
                continue
            if mine == "cli" and theirs == "screens" and in_function:
                continue  # the CLI starts the TUI lazily (checked for its marker below)
            if theirs not in ALLOWED[mine]:
                breaks.append(f"{module}:{line} ({mine}) imports {target} ({theirs})")
            elif mine == "system" and target not in SYSTEM_FOUNDATION:
                breaks.append(f"{module}:{line}: system imports only errors, paths and faults, not {target}")
    assert breaks == []


def test_no_import_cycle_between_modules() -> None:
    graph = {m: sorted({t for t, *_ in imports_of(m) if t in MODULES and t != m}) for m in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:  # the graph is shallow (tens of modules deep): the default recursion limit is plenty
        if v not in index:
            strongconnect(v)
    assert cycles == []


def test_imports_are_at_the_top_unless_marked_lazy() -> None:
    inside = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        lines = path.read_text().splitlines()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for child in ast.walk(node):
                    if isinstance(child, (ast.Import, ast.ImportFrom)) and LAZY_MARK not in lines[child.lineno - 1]:
                        inside.append(f"{module}:{child.lineno}: {lines[child.lineno - 1].strip()}")
    assert inside == []


def test_the_engine_never_imports_textual() -> None:
    offenders = []
    for module, path in MODULES.items():
        if layer_of(module) == "screens":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            if any(n == "textual" or n.startswith("textual.") for n in names):
                offenders.append(f"{module}:{node.lineno}")
    assert offenders == []


def test_importing_every_engine_module_loads_no_textual() -> None:
    engine = sorted(m for m in MODULES if layer_of(m) != "screens" and m != "mailtui.__main__")
    code = (
        "import importlib, sys\n"
        f"for m in {engine!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         env=guard.child_env())
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_no_module_is_too_long() -> None:
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    unexplained = {m: n for m, n in long.items() if m not in LONG_MODULES}
    assert unexplained == {}, f"over {MAX_LINES} lines: split them, or say in LONG_MODULES why not"
    assert set(LONG_MODULES) <= set(long), "LONG_MODULES names a module that is short now: drop it"


def test_every_package_is_in_the_wheel() -> None:
    """pyproject.toml lists the packages one by one (screens/ and assets/ are mapped into mailtui.*)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {m for m, p in MODULES.items() if p.name == "__init__.py"}
    assert packages - listed == set()
