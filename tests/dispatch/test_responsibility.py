"""The responsibility list (权责清单): validation with clear errors, every rule reachable, county counterparts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from pingan.dispatch import responsibility
from pingan.dispatch.dataset import LABELS
from pingan.dispatch.policies import ResponsibilityPolicy
from pingan.errors import Invalid
from pingan.orgs.models import Department
from pingan.policy import registry

POLICY = Path(__file__).resolve().parents[2] / "data" / "policy" / "responsibility.yaml"


def _shipped() -> ResponsibilityPolicy:
    pol = registry.check_file(POLICY)
    assert isinstance(pol, ResponsibilityPolicy)
    return pol


def _raw() -> dict:  # type: ignore[type-arg]
    return dict(yaml.safe_load(POLICY.read_text(encoding="utf-8")))


def _errors(raw: dict) -> str:  # type: ignore[type-arg]
    with pytest.raises(Invalid) as exc:
        registry.parse(yaml.safe_dump(raw, allow_unicode=True), source="test.yaml")
    assert exc.value.code == "policy_invalid"
    return str(exc.value.details["errors"])


def test_shipped_policy_is_valid_and_every_category_has_a_default() -> None:
    pol = _shipped()
    defaults = {r.category for r in pol.rules if not r.keywords and not r.counties}
    assert defaults == set(LABELS)
    assert 0 < pol.auto_dispatch_threshold <= 1


def _probe(rule):  # type: ignore[no-untyped-def]
    text = f"关于{rule.keywords[0]}的问题" if rule.keywords else "关于一般事项的反映"
    county = rule.counties[0] if rule.counties else "430602"
    return text, county


@pytest.mark.parametrize("rule_id", [r.id for r in _shipped().rules])
def test_every_rule_is_reachable(rule_id: str) -> None:
    """A message with the rule's first keyword, in its category and county, lands on that rule (no shadowing)."""
    pol = _shipped()
    rule = next(r for r in pol.rules if r.id == rule_id)
    text, county = _probe(rule)
    found = pol.match(rule.category, text, county)
    assert found is not None
    assert found[0].id == rule_id, f"{rule_id} is shadowed by {found[0].id} for {text!r}"
    assert found[1] == ([rule.keywords[0]] if rule.keywords else [])


def test_county_rule_applies_only_in_its_counties() -> None:
    pol = _shipped()
    rule = next(r for r in pol.rules if r.id == "hb-fishing-dongting")
    inside = pol.match("环境保护", "有人在湖边电鱼", rule.counties[0])
    outside = pol.match("环境保护", "有人在湖边电鱼", "430602")  # 岳阳楼区 is not in the list
    assert inside is not None and inside[0].id == "hb-fishing-dongting" and inside[0].co == ["ga"]
    assert outside is not None and outside[0].id == "hb-fishing"


def test_exclude_words_skip_a_rule() -> None:
    pol = _shipped()
    found = pol.match("环境保护", "垃圾焚烧厂排放黑烟", "430602")
    assert found is not None and found[0].id == "hb-default"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda r: r["rules"][0].update(lead="no_such_dept"), "unknown department codes ['no_such_dept']"),
        (lambda r: r["rules"][0].update(category="治安"), "unknown categories ['治安']"),
        (lambda r: r["rules"].append(dict(r["rules"][0])), "duplicate rule ids"),
        (
            lambda r: r.update(rules=[x for x in r["rules"] if x["id"] != "jt-default"]),
            "categories without a default rule",
        ),
        (lambda r: r["rules"][0].update(co=[r["rules"][0]["lead"]]), "is also listed as a co-handler"),
        (lambda r: r["rules"][0].update(counties=["4306"]), "county codes must have 6 digits"),
        (lambda r: r["rules"][0].update(keywords=["  "]), "keywords must not be empty"),
        (lambda r: r.update(auto_dispatch_threshold=1.5), "auto_dispatch_threshold"),
        (lambda r: r["rules"][0].update(owner="x"), "Extra inputs are not permitted"),
    ],
)
def test_invalid_policies_are_refused_with_a_clear_error(change, expected: str) -> None:  # type: ignore[no-untyped-def]
    raw = _raw()
    change(raw)
    assert expected in _errors(raw)


def test_policy_check_cli_accepts_the_file() -> None:
    from typer.testing import CliRunner

    from pingan.cli import app

    r = CliRunner().invoke(app, ["policy", "check", str(POLICY)])
    assert r.exit_code == 0, r.output
    assert "ResponsibilityPolicy" in r.output


def _dep(session, code: str) -> Department:  # type: ignore[no-untyped-def]
    return session.scalars(select(Department).where(Department.code == code)).one()


def test_assign_picks_the_county_counterpart(session) -> None:  # type: ignore[no-untyped-def]
    a = responsibility.assign(session, "城乡建设", "小区物业乱收费", "430626")  # 平江县
    assert a is not None and a.rule.id == "cj-default"
    assert a.lead is not None and a.lead.id == _dep(session, "zj_430626").id
    assert a.co == []


def test_assign_lead_and_co_handlers_for_a_coordinated_case(session) -> None:  # type: ignore[no-untyped-def]
    a = responsibility.assign(session, "环境保护", "禁渔期有人在湖里电鱼", "430611")  # 君山区
    assert a is not None and a.rule.id == "hb-fishing-dongting"
    assert a.lead is not None and a.lead.id == _dep(session, "nync_430611").id
    assert [d.id for d in a.co] == [_dep(session, "ga_430611").id]


def test_assign_city_level_and_departments_without_county_counterparts(session) -> None:  # type: ignore[no-untyped-def]
    city = responsibility.assign(session, "城乡建设", "公积金贷款办理太慢", "430626")
    assert city is not None and city.rule.level == "city"
    assert city.lead is not None and city.lead.id == _dep(session, "gjj").id
    water = responsibility.assign(session, "城乡建设", "小区停水三天", "430626")  # 供水公司: no county counterpart
    assert water is not None and water.lead is not None and water.lead.id == _dep(session, "gs").id
    unknown_county = responsibility.assign(session, "教育文体", "学校乱收费", "")
    assert unknown_county is not None and unknown_county.lead is not None
    assert unknown_county.lead.id == _dep(session, "jy").id
