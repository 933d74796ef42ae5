"""The metrics policy file: the shipped one is valid and consistent; broken ones are refused with reasons."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pingan.cases.policies import SatisfactionPolicy
from pingan.errors import Invalid
from pingan.metrics import kpis
from pingan.metrics.policies import METRIC_IDS, MetricsPolicy
from pingan.policy import registry


def _shipped(data_dir: Path) -> dict[str, object]:
    raw = yaml.safe_load((data_dir / "policy" / "metrics.yaml").read_text(encoding="utf-8"))
    assert isinstance(raw, dict)
    return raw


def test_shipped_policy_is_valid_and_uses_known_levels(data_dir: Path) -> None:
    pol = registry.check_file(data_dir / "policy" / "metrics.yaml")
    assert isinstance(pol, MetricsPolicy)
    sat = registry.load("satisfaction", SatisfactionPolicy)
    assert set(pol.satisfied_levels) <= set(sat.levels)
    assert set(pol.metrics) == set(METRIC_IDS)
    for m in METRIC_IDS:
        d = kpis.definition(pol, m)
        assert "{" not in d["formula"] + d["formula_en"], m  # every placeholder filled
        assert d["label"] in d["formula"] and d["label_en"] in d["formula_en"]


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda r: r["metrics"].pop("rework_rate"), "missing ['rework_rate']"),
        (lambda r: r["weights"].update({"speed": 3}), "unknown metrics"),
        (lambda r: r["bands"].reverse(), "highest minimum down"),
        (lambda r: r["bands"].pop(), "min 0"),
        (lambda r: r.update({"rework_actions": ["urge"]}), "rework_actions"),
        (lambda r: r.update({"colour": "red"}), "Extra inputs"),
    ],
)
def test_broken_policies_are_refused(data_dir: Path, change, needle: str) -> None:  # type: ignore[no-untyped-def]
    raw = _shipped(data_dir)
    change(raw)
    with pytest.raises(Invalid) as exc:
        registry.parse(yaml.safe_dump(raw, allow_unicode=True), "test")
    assert needle in str(exc.value.details["errors"])


def test_bands_and_composite(data_dir: Path) -> None:
    pol = registry.check_file(data_dir / "policy" / "metrics.yaml")
    assert isinstance(pol, MetricsPolicy)
    assert [pol.band_of(v) for v in (100, 90, 89.9, 75, 60, 40, 39.9, 0)] == ["A", "A", "B", "B", "C", "D", "E", "E"]
    assert pol.band_of(None) is None
    figs = {
        "response_rate": kpis.figure(pol, "response_rate", 9, 10),  # 90
        "rework_rate": kpis.figure(pol, "rework_rate", 1, 10),  # 10 → counts as 90
        "solved_rate": kpis.figure(pol, "solved_rate", 0, 0),  # no denominator: left out
    }
    assert figs["rework_rate"]["band"] == "A"
    assert figs["solved_rate"]["value"] is None and figs["solved_rate"]["formula"].endswith("0 / 0 = —")
    c = kpis.composite(pol, figs)
    w_r, w_w = pol.weights["response_rate"], pol.weights["rework_rate"]
    assert c["value"] == round((w_r * 90 + w_w * 90) / (w_r + w_w), 1)
    assert c["band"] == "A" and "返工率" in c["formula"] and "解决率" not in c["formula"]
