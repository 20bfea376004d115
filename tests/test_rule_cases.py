"""Rule cases as data: every case of ``tests/rule_cases/<CODE>.toml`` through ``rules.detect``.

Each code has its own file with at least one firing case (the code in ``expect``) and one healthy
case (the code, its kind or ``ALL`` in ``forbid``), and each rule docstring's Example is one of its
firing cases, quoted with the case's description and the message the rule writes for it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trainlog_doctor.rules import RULES, Rule
from trainlog_doctor.testing import CURVES, EDITS, RuleCase, load_case_dir

CASE_DIR = Path(__file__).resolve().parent / "rule_cases"
CASES: dict[str, list[RuleCase]] = load_case_dir(CASE_DIR)
ALL_CASES = [(code, case) for code, cases in CASES.items() for case in cases]

#: ``Example: case "NAME" in tests/rule_cases/CODE.toml: DESCRIPTION -> "MESSAGE".`` (whitespace folded)
EXAMPLE_RE = re.compile(r'Example: case "(?P<name>[^"]+)" in tests/rule_cases/(?P<file>[A-Z]{2}\d{3})\.toml: '
                        r'(?P<description>.+?) -> "(?P<message>.+)"\.?$')


@pytest.mark.parametrize(("code", "case"), ALL_CASES, ids=[f"{code}-{case.name}" for code, case in ALL_CASES])
def test_case(code: str, case: RuleCase) -> None:
    problems = case.problems(case.findings())
    assert not problems, "\n".join(problems)


def test_one_case_file_per_code() -> None:
    assert set(CASES) == {r.code for r in RULES}, "tests/rule_cases/ must hold one <CODE>.toml per rule code and no other file"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_every_code_has_a_firing_and_a_healthy_case(rule: type[Rule]) -> None:
    cases = CASES.get(rule.code, [])
    assert any(c.fires(rule) for c in cases), f"{rule.code}.toml has no case where {rule.code} must fire"
    assert any(c.guards(rule) for c in cases), f"{rule.code}.toml has no healthy case where {rule.code} must not fire"


@pytest.mark.parametrize("code", sorted(CASES))
def test_cases_are_well_formed(code: str) -> None:
    names = [c.name for c in CASES[code]]
    assert len(names) == len(set(names)), f"duplicate case names in {code}.toml"
    known = {r.code for r in RULES} | {r.kind for r in RULES}
    for case in CASES[code]:
        assert re.fullmatch(r"[a-z0-9_-]+", case.name), case.name
        assert case.description and "\n" not in case.description, f"{case.name}: one-line description"
        assert case.expect or case.forbid, f"{case.name} expects nothing and forbids nothing"
        assert set(case.expect) <= known and set(case.forbid) <= known | {"ALL"}, case.name
        for spec in case.series:
            assert spec.recipe in CURVES, spec.recipe
            assert all(e.get("op") in EDITS for e in spec.edits), spec.edits


def _example(rule: type[Rule]) -> re.Match[str]:
    text = " ".join(rule.doc().split())
    m = EXAMPLE_RE.search(text[text.find("Example:") :])
    assert m, f"{rule.code}: the docstring's Example must read 'Example: case \"NAME\" in tests/rule_cases/{rule.code}.toml: ...'"
    return m


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_docstring_example_is_a_firing_case(rule: type[Rule]) -> None:
    m = _example(rule)
    assert m["file"] == rule.code, f"{rule.code}: the Example names a case of {m['file']}.toml"
    case = next((c for c in CASES[rule.code] if c.name == m["name"]), None)
    assert case is not None, f"{rule.code}.toml has no case {m['name']!r}"
    assert case.fires(rule), f"{rule.code}: the Example case {case.name!r} does not expect {rule.code}"
    assert m["description"] == case.description, "the Example's description must be the case's description"
    messages = [" ".join(f.message.split()) for f in case.findings() if f.code == rule.code]
    assert m["message"] in messages, f"{rule.code} writes {messages} for {case.name!r}, the docstring quotes {m['message']!r}"
