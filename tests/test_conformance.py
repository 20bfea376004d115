"""The conformance suite (``trainlog_doctor.testing``) over every rule of ``rules.RULES`` and every
reader of ``readers.READERS``, and the check that none is left out."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import trainlog_doctor.readers as readers_pkg
import trainlog_doctor.rules as rules_pkg
from trainlog_doctor.readers import READERS, reader_for_file
from trainlog_doctor.rules import RULES, Rule
from trainlog_doctor.testing import INVARIANCES, Check, Example, load_case_dir, reader_checks, rule_checks

REPO = Path(__file__).resolve().parents[1]
SAMPLE_LOGS = REPO / "sample_logs"
CASES = load_case_dir(Path(__file__).resolve().parent / "rule_cases")

#: One sample file per reader format (a file inside its run directory for a directory reader).
SAMPLES: dict[str, str] = {
    "tfevents": "spike_tb/events.out.tfevents.1795404871.vm.3898.1",
    "hf_trainer_state": "divergence_nan/trainer_state.json",
    "detectron2_json": "healthy_detectron2/metrics.json",
    "mmdet_json": "collapse/20261123_033423.log.json",
    "jsonl": "spike/log.txt",
    "ultralytics_csv": "slowdown/results.csv",
    "lightning_csv": "overfitting/lightning_logs/version_0/metrics.csv",
    "keras_csv": "healthy_keras/training.log",
    "keras_history": "../tests/data/keras_history/history.json",
    "mlflow": "../tests/data/mlflow/mlruns/1/3f2a9c1d7e5b4a60b8d2c4e6f8a0b1c2/meta.yaml",
    "mlflow_db": "../tests/data/mlflow_db/mlflow.db",  # made by tests/mlflow_db_fixture.py
    "wandb": "../tests/data/wandb/wandb/run-20260508_223001-k3x9q2mw/files/wandb-summary.json",
    "text_log": "../tests/data/text_log/training.log",
}


def examples_for(rule: type[Rule]) -> list[Example]:
    """The rule's own cases (tests/rule_cases/<CODE>.toml) as runs to check it on."""
    return [Example(f"{rule.code}.toml:{c.name}", c.frame(), dict(c.meta)) for c in CASES.get(rule.code, [])]


RULE_CHECKS: list[Check] = [check for rule in RULES for check in rule_checks(rule, examples_for(rule))]
READER_CHECKS: list[Check] = [
    check
    for reader in READERS
    if reader.format in SAMPLES
    for check in reader_checks(reader, SAMPLE_LOGS / SAMPLES[reader.format])
]


@pytest.mark.parametrize("check", RULE_CHECKS, ids=lambda c: c.id)
def test_rule_conforms(check: Check) -> None:
    check()


@pytest.mark.parametrize("check", READER_CHECKS, ids=lambda c: c.id)
def test_reader_conforms(check: Check) -> None:
    check()


def _classes_defined_in(package: object) -> list[type]:
    """Every class defined in a module of ``package`` (each module imported)."""
    out: list[type] = []
    for info in pkgutil.iter_modules(package.__path__):  # type: ignore[attr-defined]
        module = importlib.import_module(f"{package.__name__}.{info.name}")  # type: ignore[attr-defined]
        out += [c for _, c in inspect.getmembers(module, inspect.isclass) if c.__module__ == module.__name__]
    return out


def test_no_rule_is_left_out() -> None:
    """Every rule class with a code is in the catalogue, and every catalogue entry gets every generic check."""
    defined = {c for c in _classes_defined_in(rules_pkg) if issubclass(c, Rule) and c.code}
    assert defined == set(RULES), f"rule classes missing from rules.RULES: {sorted(c.__name__ for c in defined - set(RULES))}"
    generic = {c.name for c in rule_checks(Rule)} - {f"invariant_to_{i}" for i in INVARIANCES}
    for rule in RULES:
        names = {c.name for c in RULE_CHECKS if c.target == rule.code}
        assert generic <= names, f"{rule.code} misses checks {generic - names}"
        assert {f"invariant_to_{i}" for i in rule.invariances} <= names


def test_no_reader_is_left_out() -> None:
    """Every reader class is registered, every registered reader has a sample of its own family, and every
    reader gets every generic check."""
    defined = {c for c in _classes_defined_in(readers_pkg)
               if isinstance(getattr(c, "format", None), str) and callable(getattr(c, "sniff", None))
               and callable(getattr(c, "read", None)) and not getattr(c, "_is_protocol", False)}
    registered = {type(r) for r in READERS}
    missing = sorted(c.__name__ for c in defined - registered)
    assert defined == registered, f"reader classes missing from readers.READERS: {missing}"
    assert set(SAMPLES) == {r.format for r in READERS}, "SAMPLES must name one sample per registered reader format"
    for reader in READERS:
        sample = SAMPLE_LOGS / SAMPLES[reader.format]
        assert sample.is_file(), sample
        assert reader_for_file(sample) is reader, f"{sample} is not sniffed as {reader.format}"
    generic = {c.name for c in reader_checks(READERS[0], SAMPLE_LOGS / SAMPLES[READERS[0].format])}
    for reader in READERS:
        assert {c.name for c in READER_CHECKS if c.target == reader.format} == generic, reader.format
