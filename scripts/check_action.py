"""Run the steps of the composite GitHub Action in ``action.yml`` locally, as the runner would.

    python scripts/check_action.py --path sample_logs --fail-on error --comment true

Each ``run`` step of ``action.yml`` is executed verbatim with ``bash --noprofile --norc -eo pipefail``
(the runner's command for ``shell: bash``), in step order, with the runner's files and variables
(``GITHUB_ACTION_PATH`` = this checkout, ``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``, ``GITHUB_PATH``,
``RUNNER_TEMP``, ``GITHUB_WORKSPACE``). The ``${{ ... }}`` expressions of the steps' ``env`` blocks
and of the action's outputs are resolved from the inputs, a pull-request event and the earlier
steps' outputs (only dotted names are supported, which is all the action uses; anything else is an
error). Two things stand in for the runner:

* the Python: a fresh virtual environment in a temporary directory that sees the current
  interpreter's installed packages (so the action's ``pip install "$GITHUB_ACTION_PATH"`` builds and
  installs this checkout without downloading the dependencies again);
* ``gh``: a stand-in on ``PATH`` that records its arguments and the comment body instead of posting.

Prints a JSON summary (each step's exit status and how many ``::error``/``::warning``/``::notice``
workflow commands it printed, the action's outputs, what ``gh`` was asked to do,
where ``trainlog_doctor`` was imported from) and exits with the action's exit status (the first
failing step's, else 0).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
import venv
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
EXPR = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*")

FAKE_GH = """#!/usr/bin/env bash
# stand-in for the GitHub CLI: records the call (and the body file's text) instead of posting
log="${FAKE_GH_LOG:?}"
body=""
prev=""
for a in "$@"; do
  if [ "$prev" = "--body-file" ]; then body="$a"; fi
  prev="$a"
done
printf '%s\\n' "$*" >> "$log"
if [ -n "$body" ]; then printf 'body-chars=%s\\n' "$(wc -c < "$body")" >> "$log"; fi
case " $* " in
  *" --edit-last "*) if [ "${FAKE_GH_HAS_COMMENT:-0}" != "1" ]; then echo "no comment to edit" >&2; exit 1; fi ;;
esac
exit 0
"""


def resolve(text: str, context: dict[str, Any]) -> str:
    """``text`` with each ``${{ a.b.c }}`` replaced by that value of ``context`` ('' when missing)."""

    def one(m: re.Match[str]) -> str:
        expr = m.group(1)
        if not NAME.fullmatch(expr):
            raise ValueError(f"unsupported expression in action.yml: ${{{{ {expr} }}}}")
        value: Any = context
        for part in expr.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return "" if value is None else str(value)

    return EXPR.sub(one, text)


def read_outputs(path: Path) -> dict[str, str]:
    """``name=value`` lines of a ``GITHUB_OUTPUT`` file (the single-line form the action writes)."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep:
            out[name] = value
    return out


def make_python(where: Path) -> Path:
    """A virtual environment that also sees the current interpreter's packages; its bin directory."""
    venv.EnvBuilder(with_pip=True).create(where)
    env_python = where / "bin" / "python"
    site = subprocess.run([env_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # a plain path line: the packages are visible, their own .pth files (an editable install) are not
    (Path(site) / "runner_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return where / "bin"


def run_action(inputs: dict[str, str], *, pr_number: int | None, has_comment: bool, work: Path) -> dict[str, Any]:
    """Run every step of ``action.yml`` in ``work``; the summary described in the module docstring."""
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    if action["runs"]["using"] != "composite":
        raise ValueError("action.yml is not a composite action")
    declared = action.get("inputs", {})
    unknown = set(inputs) - set(declared)
    if unknown:
        raise ValueError(f"inputs not declared in action.yml: {', '.join(sorted(unknown))}")
    files = {name: work / name for name in ("output", "step_summary", "path", "gh.log")}
    for f in files.values():
        f.write_text("", encoding="utf-8")
    temp = work / "runner_temp"
    temp.mkdir()
    tools = work / "tools"
    tools.mkdir()
    (tools / "gh").write_text(FAKE_GH, encoding="utf-8")
    (tools / "gh").chmod(0o755)
    python_bin = make_python(work / "python")
    event = {"pull_request": {"number": pr_number}} if pr_number is not None else {}
    (work / "event.json").write_text(json.dumps(event), encoding="utf-8")
    github = {"token": "local-token", "repository": "example/trainlog-doctor-check", "event": event,
              "event_name": "pull_request" if pr_number is not None else "push", "workspace": str(Path.cwd())}
    context: dict[str, Any] = {
        "inputs": {name: inputs.get(name, resolve(str(spec.get("default", "")), {"github": github}))
                   for name, spec in declared.items()},
        "github": github,
        "steps": {},
    }
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("GITHUB_")}
    env.update({
        "PATH": f"{python_bin}{os.pathsep}{tools}{os.pathsep}{env.get('PATH', '')}",
        "GITHUB_ACTIONS": "true",
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_WORKSPACE": str(Path.cwd()),
        "GITHUB_OUTPUT": str(files["output"]),
        "GITHUB_STEP_SUMMARY": str(files["step_summary"]),
        "GITHUB_PATH": str(files["path"]),
        "GITHUB_EVENT_PATH": str(work / "event.json"),
        "GITHUB_EVENT_NAME": github["event_name"],
        "RUNNER_TEMP": str(temp),
        "FAKE_GH_LOG": str(files["gh.log"]),
        "FAKE_GH_HAS_COMMENT": "1" if has_comment else "0",
        "NO_COLOR": "1",
    })
    steps: list[dict[str, Any]] = []
    status = 0
    for i, step in enumerate(action["runs"]["steps"]):
        if "run" not in step:
            raise ValueError(f"step {i} ({step.get('name')}) is not a run step; only run steps can be checked locally")
        if step.get("shell") != "bash":
            raise ValueError(f"step {i} ({step.get('name')}) must say shell: bash")
        files["output"].write_text("", encoding="utf-8")
        step_env = {**env, **{k: resolve(str(v), context) for k, v in (step.get("env") or {}).items()}}
        script = work / f"step{i}.sh"
        script.write_text(step["run"], encoding="utf-8")
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], env=step_env,
                              capture_output=True, text=True, check=False)
        if step.get("id"):
            context["steps"][step["id"]] = {"outputs": read_outputs(files["output"])}
        commands = {kind: sum(line.startswith(f"::{kind} ") for line in proc.stdout.splitlines())
                    for kind in ("error", "warning", "notice")}
        steps.append({"name": step.get("name"), "exit": proc.returncode, "workflow_commands": commands,
                      "stdout": proc.stdout[-4000:], "stderr": proc.stderr[-4000:]})
        if proc.returncode:
            status = proc.returncode
            break  # the runner stops at the first failing step
    imported = subprocess.run([python_bin / "python", "-c", "import trainlog_doctor; print(trainlog_doctor.__file__)"],
                              env=env, capture_output=True, text=True, check=False).stdout.strip()
    return {
        "status": status,
        "steps": steps,
        "outputs": {name: resolve(str(spec.get("value", "")), context) for name, spec in action.get("outputs", {}).items()},
        "step_summary_chars": len(files["step_summary"].read_text(encoding="utf-8")),
        "gh": files["gh.log"].read_text(encoding="utf-8").splitlines(),
        "trainlog_doctor_imported_from": imported,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--path", default="sample_logs", help="the action's path input")
    ap.add_argument("--fail-on", default=None, help="the action's fail-on input (default: the action's default)")
    ap.add_argument("--comment", default=None, help="the action's comment input (true/false)")
    ap.add_argument("--pr", type=int, default=7, help="pull-request number of the event (0: a push, no pull request)")
    ap.add_argument("--has-comment", action="store_true", help="the pull request already has a comment to edit")
    ap.add_argument("--keep", type=Path, default=None, help="work in this directory and keep it (default: a temporary one)")
    args = ap.parse_args()
    inputs = {"path": args.path}
    if args.fail_on is not None:
        inputs["fail-on"] = args.fail_on
    if args.comment is not None:
        inputs["comment"] = args.comment
    pr = args.pr or None
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=False)
        result = run_action(inputs, pr_number=pr, has_comment=args.has_comment, work=args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="check-action-") as tmp:
            result = run_action(inputs, pr_number=pr, has_comment=args.has_comment, work=Path(tmp))
    print(json.dumps(result, indent=2))
    sys.exit(result["status"])


if __name__ == "__main__":
    main()
