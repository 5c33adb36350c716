"""README's test command is the one .ci/run runs, and it runs the suite in parallel."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"\*\*2\. Install and run the whole test suite\*\*.*?```sh\n(.*?)\n```", readme, re.S)
    assert block, "README has no test command (command 2)"
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    marker = ci.index("# --- README test command (keep identical to README.md) ---")
    assert ci[marker + 1] == block.group(1)
    assert " -n auto" in block.group(1) and "pytest" in block.group(1)


def test_ci_installs_the_boards_packages_from_the_registry():
    """.ci/run asks the board registry for the packages (a new board needs no edit there), and
    the registry lists each board's compiler and emulator packages."""
    from lenetc.firmware.targets import TARGETS, apt_packages

    ci = (ROOT / ".ci" / "run").read_text()
    assert "from lenetc.firmware.targets import apt_packages; print(*apt_packages())" in ci
    assert ci.index("apt_packages") < ci.index("# --- README test command")
    packages = apt_packages()
    readme = (ROOT / "README.md").read_text()
    assert all(p in readme for p in packages), "README's package list is not the registry's"
    for t in TARGETS.values():
        if t.kind != "host":
            assert t.packages and set(t.packages) <= set(packages), t.name
