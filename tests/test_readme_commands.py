"""The README's two commands, run as written in a fresh virtual environment.

Slow and networked (pip installs the dependencies), so it runs only when
``NABLANET_TEST_README=1`` is set, as CI does; otherwise it is skipped.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = ["pip install . && nablanet train", "pip install '.[test]' && pytest"]


def readme_commands():
    """The command lines of the README's first bash block, comments removed."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    lines = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    return [line for line in lines if line]


def test_readme_shows_the_two_commands():
    assert readme_commands() == EXPECTED


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("NABLANET_TEST_README") != "1",
                    reason="set NABLANET_TEST_README=1 to install into a fresh venv (slow, "
                           "needs the package index)")
def test_readme_commands_in_a_fresh_venv(tmp_path):
    source = tmp_path / "nablanet"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", "runs", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("NABLANET_TEST_README", "PYTHONPATH")}
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    for command in readme_commands():
        done = subprocess.run(["bash", "-c", command], cwd=source, env=env, capture_output=True,
                              text=True, timeout=3600)
        assert done.returncode == 0, f"{command!r} failed:\n{done.stdout[-3000:]}\n{done.stderr}"
    runs = list((source / "runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "model.npz").is_file()
