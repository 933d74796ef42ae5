"""12345 ⇄ 110 triage: every transfer rule fires, exclusions hold, direction follows the channel, the API."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pingan.dispatch import triage
from pingan.dispatch.policies import TransferPolicy
from pingan.errors import Invalid
from pingan.policy import registry

POLICY = Path(__file__).resolve().parents[2] / "data" / "policy" / "transfer.yaml"


def _shipped() -> TransferPolicy:
    pol = registry.check_file(POLICY)
    assert isinstance(pol, TransferPolicy)
    return pol


def _channel(direction: str) -> str:
    return "hotline_12345" if direction == "to_110" else "police_110"


@pytest.mark.parametrize("rule_id", [r.id for r in _shipped().rules])
def test_every_transfer_rule_fires_and_says_why(rule_id: str) -> None:
    pol = _shipped()
    rule = next(r for r in pol.rules if r.id == rule_id)
    if rule.keywords:
        text = f"市民来电：{rule.keywords[0]}，请处理"
        category = rule.categories[0] if rule.categories else None
    else:
        text = "咨询孩子入学的政策"
        category = rule.categories[0]
    hit = triage.check(_channel(rule.direction), text, category, 0.99, pol)
    assert hit is not None, f"{rule_id} did not fire on {text!r}"
    assert hit["rule_id"] == rule_id, f"{rule_id} is shadowed by {hit['rule_id']}"
    assert hit["to"] == ("110" if rule.direction == "to_110" else "12345")
    assert hit["label"] == rule.label and hit["class"] == rule.klass
    assert hit["matched"] == ([rule.keywords[0]] if rule.keywords else [])


def test_direction_follows_the_channel() -> None:
    pol = _shipped()
    # A police matter at 12345 is flagged; the same words arriving from 110 are not a transfer back.
    assert triage.check("hotline_12345", "楼下有人持刀抢劫", pol=pol)["rule_id"] == "P110-01"  # type: ignore[index]
    assert triage.check("grid", "小区门口有人打架斗殴", pol=pol)["to"] == "110"  # type: ignore[index]
    assert triage.check("police_110", "楼下有人持刀抢劫", pol=pol) is None
    # A non-police matter from 110 is flagged for 12345; at 12345 it is simply ours.
    assert triage.check("police_110", "楼上装修噪音扰民", pol=pol)["rule_id"] == "H12345-01"  # type: ignore[index]
    assert triage.check("hotline_12345", "楼上装修噪音扰民", pol=pol) is None


def test_exclusions_keep_police_matters_with_110() -> None:
    pol = _shipped()
    assert triage.check("police_110", "工地噪音扰民，对方还持刀威胁", pol=pol) is None
    assert triage.check("police_110", "老板拖欠工资，工人要跳楼", pol=pol) is None
    assert triage.check("hotline_12345", "咨询如何安装防盗门", pol=pol) is None


def test_category_rule_needs_confidence() -> None:
    pol = _shipped()
    text = "孩子学校食堂收费不合理"
    assert triage.check("police_110", text, "教育文体", 0.95, pol)["rule_id"] == "H12345-05"  # type: ignore[index]
    assert triage.check("police_110", text, "教育文体", 0.5, pol) is None
    assert triage.check("police_110", text, "交通运输", 0.99, pol) is None
    assert triage.check("police_110", text + "，有人被打伤", "教育文体", 0.99, pol) is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda r: r["rules"][0].update(keywords=[], categories=[]), "needs keywords or categories"),
        (lambda r: r["rules"][0].update(direction="sideways"), "direction"),
        (lambda r: r["rules"][0].update(categories=["治安"]), "unknown categories"),
        (lambda r: r.update(to_110_channels=["fax"]), "unknown channels"),
        (lambda r: r["rules"].append(dict(r["rules"][0])), "duplicate rule ids"),
        (lambda r: r["rules"][0].pop("class"), "class"),
    ],
)
def test_invalid_transfer_lists_are_refused(change, expected: str) -> None:  # type: ignore[no-untyped-def]
    raw = dict(yaml.safe_load(POLICY.read_text(encoding="utf-8")))
    change(raw)
    with pytest.raises(Invalid) as exc:
        registry.parse(yaml.safe_dump(raw, allow_unicode=True), source="t.yaml")
    assert expected in str(exc.value.details["errors"])


def test_transfer_rules_endpoint(api) -> None:  # type: ignore[no-untyped-def]
    r = api.get("zuoxi", "/api/v1/routing/transfer-rules")
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["id"] for x in body["rules"]] == [x.id for x in _shipped().rules]
    assert "police_110" in body["to_12345_channels"]
    assert api.client.get("/api/v1/routing/transfer-rules").status_code == 401


def test_a_police_matter_never_leaves_110() -> None:
    """Whatever the to_12345 rules say, words of any to_110 rule keep the matter with 110."""
    pol = _shipped()
    for rule in pol.rules:
        if rule.direction != "to_110":
            continue
        text = f"物业纠纷，{rule.keywords[0]}"
        assert triage.check("police_110", text, "城乡建设", 0.99, pol) is None, rule.id
