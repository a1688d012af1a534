"""`pip install .` gives a working mailtui: the wheel carries the engine, the screens and the assets."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_installs_a_working_mailtui(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    # Build from a copy so that setuptools leaves no build/ or egg-info in the work tree.
    subprocess.run(["cp", "-r", str(ROOT / "pyproject.toml"), str(ROOT / "README.md"), str(ROOT / "mailtui"),
                    str(ROOT / "screens"), str(ROOT / "assets"), str(src)], check=True)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(src)],
                   check=True, capture_output=True)
    (wheel,) = wheels.glob("mailtui-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "mailtui/assets/schema.sql" in names
    assert any(n.startswith("mailtui/assets/templates/dovecot-2.4") for n in names)
    assert "mailtui/screens/app.py" in names
    assert not any(n.startswith(("screens/", "assets/", "tests/")) for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    # Dependencies come from the test venv's site-packages (PYTHONPATH processes no .pth files, so the
    # editable mailtui there stays invisible); mailtui itself comes from the wheel.
    deps = sysconfig.get_paths()["purelib"]
    env = {**os.environ, "PYTHONPATH": f"{target}{os.pathsep}{deps}"}
    code = (
        "import mailtui, importlib.resources as r, mailtui.screens.app as app\n"
        "print(mailtui.__file__)\n"
        "print((r.files('mailtui.assets') / 'schema.sql').read_text())\n"
    )
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], env=env, capture_output=True, text=True,
                         check=False, cwd=venv)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(str(target))
    assert "virtual_domains" in out.stdout
    version = subprocess.run([str(venv / "bin" / "python"), "-m", "mailtui", "--version"], env=env,
                             capture_output=True, text=True, check=True, cwd=venv)
    assert version.stdout.startswith("mailtui ")
