"""Start-up cost: each command imports only what it uses (issue: a run pays for what it needs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("polars", "numpy", "scipy", "sklearn", "ruptures", "jinja2", "pandas", "tensorboard", "yaml")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    return {m.split(".")[0] for m in json.loads(out.stdout.strip().splitlines()[-1])}


def test_cli_import_and_help_load_no_heavy_module() -> None:
    code = (
        "import contextlib, io\nfrom trainlog_doctor.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])"
    )
    assert _modules_after(code) == set()


def test_rules_listing_loads_no_heavy_module() -> None:
    code = (
        "import contextlib, io\nfrom trainlog_doctor.cli import main\nbuf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):\n"
        "    main(['rules'])\nassert 'DV001' in buf.getvalue()"
    )
    assert _modules_after(code) == set()


def test_small_csv_analysis_skips_scipy_ruptures_sklearn_jinja() -> None:
    sample = ROOT / "sample_logs" / "healthy_keras"
    code = f"from trainlog_doctor.api import analyze\nreport = analyze([{str(sample)!r}])\nassert report.runs"
    loaded = _modules_after(code)
    assert {"polars", "numpy"} <= loaded
    assert not loaded & {"scipy", "sklearn", "ruptures", "jinja2", "pandas", "tensorboard", "yaml"}
