"""The composite GitHub Action (``action.yml``): its steps run locally by ``scripts/check_action.py``, and
the README's workflow uses it with the inputs it declares."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _action() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


def test_action_declares_its_inputs_and_never_pastes_them_into_shell() -> None:
    action = _action()
    assert action["runs"]["using"] == "composite"
    assert {"path", "fail-on", "comment"} <= set(action["inputs"])
    steps = action["runs"]["steps"]
    assert 'pip install --quiet --disable-pip-version-check "$GITHUB_ACTION_PATH"' in steps[0]["run"]  # its own checkout
    for step in steps:
        assert "${{" not in step["run"], step["name"]  # inputs reach the script as environment variables only


def test_readme_workflow_uses_the_action_as_written() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", readme, re.S)
    workflows = [yaml.safe_load(b) for b in blocks if "jobs:" in b]
    assert workflows, "the README shows a workflow"
    declared = set(_action()["inputs"])
    used = [s for wf in workflows for job in wf["jobs"].values() for s in job["steps"] if s.get("uses") == "./"]
    assert used, "a workflow step uses the action at the repository root"
    for step in used:
        assert set(step.get("with", {})) <= declared
    text = "\n".join(blocks)
    assert "<" not in text and "pip install trainlog-doctor" not in text  # no placeholders, nothing unpublished


def _check(*args: str) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_action.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=900, check=False)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"check_action.py printed no JSON (exit {proc.returncode}): {proc.stderr[-3000:]}")


def _github_levels(path: Path) -> dict[str, int]:
    """Annotations per level that ``--format github`` gives for ``path`` in this process."""
    from collections import Counter

    from trainlog_doctor.api import analyze
    from trainlog_doctor.report.formats import render

    text = render(analyze([path]), "github")
    return dict(Counter(line[2:].split(" ", 1)[0] for line in text.splitlines() if line.startswith("::")))


def test_action_steps_run_locally() -> None:
    """Install from the checkout, annotate, summarize, comment (editing fails, so a new comment), fail on errors."""
    code, result = _check("--path", "sample_logs", "--comment", "true", "--pr", "7")
    steps = {s["name"]: s for s in result["steps"]}
    assert code == 1 == result["status"], result  # the samples hold error findings; fail-on defaults to error
    assert [s["exit"] for s in result["steps"]] == [0, 0, 0, 0, 1]  # only the verdict fails, after the rest ran
    assert "/python/lib/" in result["trainlog_doctor_imported_from"]  # the installed copy, not the source tree
    commands = steps["Annotate"]["workflow_commands"]
    expected = _github_levels(ROOT / "sample_logs")
    assert expected["error"] >= 1 and commands["error"] == expected["error"]  # the samples' incidents, as annotations
    assert commands["warning"] == expected["warning"]
    assert result["outputs"]["exit-code"] == "1"
    summary = Path(result["outputs"]["summary"]).name
    assert summary == "trainlog-doctor.md" and result["step_summary_chars"] > 1000
    gh = result["gh"]
    assert gh[0].startswith("pr comment 7 --body-file ") and gh[0].endswith("--edit-last")
    assert gh[2].startswith("pr comment 7 --body-file ") and not gh[2].endswith("--edit-last")
    assert gh[1] == gh[3] and int(gh[1].split("=")[1]) > 1000
    assert "findings at or above fail-on=error" in steps["Verdict"]["stdout"]
