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


def test_ci_installs_every_targets_packages():
    from lenetc.firmware.targets import apt_packages

    ci = (ROOT / ".ci" / "run").read_text()
    missing = [p for p in apt_packages() if not re.search(rf"(?<![\w.-]){re.escape(p)}(?![\w.-])", ci)]
    assert not missing, f".ci/run does not install {missing}"
