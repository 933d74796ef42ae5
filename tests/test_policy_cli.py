"""`pingan policy check`: shipped policies pass; broken ones say exactly what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pingan.cli import app

POLICY_DIR = Path(__file__).resolve().parents[1] / "data" / "policy"


@pytest.mark.parametrize("path", sorted(POLICY_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_policies_are_valid(path: Path) -> None:
    result = CliRunner().invoke(app, ["policy", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


BROKEN = {
    "no_kind.yaml": ("rules: []\n", "kind"),
    "unknown_kind.yaml": ("kind: teleport\n", "unknown policy kind"),
    "bad_yaml.yaml": ("kind: deadlines\nrules: [\n", "YAML"),
    "no_default.yaml": (
        "kind: deadlines\nworking_hours: [['08:30','12:00']]\nsign_limit: {amount: 2, unit: work_hours}\n"
        "rules: [{case_type: 投诉, urgency: '*', amount: 13, unit: work_days}]\nurge_at_share: 0.8\n"
        "escalate_after: {amount: 2, unit: work_days}\nextension_max: {amount: 10, unit: work_days}\n",
        "default rule",
    ),
    "bad_unit.yaml": (
        "kind: deadlines\nworking_hours: [['08:30','12:00']]\nsign_limit: {amount: 2, unit: fortnights}\n"
        "rules: [{case_type: '*', urgency: '*', amount: 13, unit: work_days}]\nurge_at_share: 0.8\n"
        "escalate_after: {amount: 2, unit: work_days}\nextension_max: {amount: 10, unit: work_days}\n",
        "sign_limit.unit",
    ),
    "dup_departments.yaml": (
        "kind: departments\ndepartments:\n  - {code: cg, name: 城管局, short_name: 城管}\n"
        "  - {code: cg, name: 城管局二, short_name: 城管}\n",
        "duplicate department codes",
    ),
    "bad_satisfaction.yaml": (
        "kind: satisfaction\nlevels: [满意, 不满意]\nsatisfied: [满意, 超级满意]\nreopen_on: []\n",
        "超级满意",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_policies_are_refused(tmp_path: Path, name: str) -> None:
    text, expected = BROKEN[name]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["policy", "check", str(path)])
    assert result.exit_code == 1, result.output
    assert expected in result.output


def test_missing_file() -> None:
    result = CliRunner().invoke(app, ["policy", "check", "/nonexistent/policy.yaml"])
    assert result.exit_code == 2
