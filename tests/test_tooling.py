"""The project's own checks run as tests: layering contract, lint, types, generated docs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)


def _tool(name: str) -> str:
    """The console script ``name`` next to this Python (the test extras install it)."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


def test_import_layers_contract_holds() -> None:
    """``[tool.importlinter]`` in pyproject.toml: no import points up a layer, no import circle across layers."""
    proc = _run(_tool("lint-imports"), "--no-cache")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_ruff_is_clean() -> None:
    proc = _run(_tool("ruff"), "check", "--no-cache", "src", "tests", "benchmarks", "scripts")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_mypy_is_clean_on_the_lower_layers() -> None:
    """``[tool.mypy] files``: model/, run/ and signals/ type-check with untyped definitions disallowed."""
    proc = _run(_tool("mypy"), "--no-incremental")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_generated_rule_docs_are_current() -> None:
    """README's code table and docs/RULES.md match the rule catalogue (``python scripts/gen_docs.py``)."""
    proc = _run(sys.executable, "scripts/gen_docs.py", "--check")
    assert proc.returncode == 0, proc.stderr


def test_cli_rule_shows_documentation_parameters_and_causes() -> None:
    from click.testing import CliRunner

    from trainlog_doctor.cli import main
    from trainlog_doctor.rules import get_rule

    out = CliRunner().invoke(main, ["rule", "dv001"])
    assert out.exit_code == 0, out.output
    rule = get_rule("DV001")
    assert rule.summary() in out.output
    for name in rule.default_params():
        assert name in out.output
    assert "Likely causes:" in out.output and "fix:" in out.output
