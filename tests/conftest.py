"""Shared fixtures: paths to the real-log corpus (skipped when ../shared is absent) and the sample logs.

``benchmarks/`` goes on ``sys.path`` so tests can import the synthetic-curve generator (``synthetic``),
which lives beside the benchmarks rather than in the package.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
REAL_LOGS = REPO.parent / "shared" / "real_logs"
SAMPLE_LOGS = REPO / "sample_logs"


@pytest.fixture(scope="session")
def real_logs() -> Path:
    if not REAL_LOGS.is_dir():
        pytest.skip("../shared/real_logs is not present")
    return REAL_LOGS


@pytest.fixture(scope="session")
def sample_logs() -> Path:
    if not (SAMPLE_LOGS / "LABELS.json").is_file():
        pytest.skip("sample_logs/ has not been generated")
    return SAMPLE_LOGS
