"""Demo data for the mediation module: realistic disputes across Yueyang's towns, the Yueyang County marriage &
family mediation center with its volunteer roster and rota, and petitions with a backlog.

Deterministic for a given (n, now): every record is made through the service, so every figure on the pages
comes from timelines that verify.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pingan.cases.actors import Actor
from pingan.cases.models import Case
from pingan.geo.models import Region
from pingan.mediation import documents, rota, service
from pingan.mediation.models import Dispute, Mediator
from pingan.mediation.schemas import (
    AgreementIn,
    DisputeActionInput,
    DisputeIn,
    PartyIn,
    PetitionActionInput,
    PetitionIn,
    RiskInput,
    SessionIn,
)
from pingan.orgs.roles import Role
from pingan.timeutil import utcnow

MARRIAGE_CENTER = "marriage:430621"  # 岳阳县婚姻家庭纠纷调解中心 (妇联牵头)
MARRIAGE_ORG = "岳阳县婚姻家庭纠纷调解中心"
COURT = "岳阳县人民法院"

SURNAMES = (
    "王李张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
    "苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红春梅海兰文辉鹏飞玉凤德清云松湘岳洞庭"

# (type, weight, title templates, people range, amount range, terms)
TYPES: list[tuple[str, int, list[str], tuple[int, int], tuple[int, int], list[str]]] = [
    (
        "邻里",
        22,
        ["{a}与{b}因宅基地滴水檐引发纠纷", "{a}与{b}因排水沟堵塞发生争执", "{a}家养狗伤人引发邻里纠纷"],
        (2, 4),
        (0, 8000),
        ["{b}于履行期限内自行拆除越界部分并恢复排水", "{a}不再追究{b}其他责任"],
    ),
    (
        "婚姻家庭",
        18,
        ["{a}与{b}赡养老人费用分担纠纷", "{a}与{b}家庭财产分割纠纷"],
        (2, 5),
        (0, 60000),
        ["{b}每月支付赡养费 600 元", "双方轮流照顾老人，每人每月一次"],
    ),
    (
        "土地山林",
        14,
        ["{v}村民小组与邻组山林界址纠纷", "{a}等承包地界争议"],
        (4, 40),
        (5000, 300000),
        ["以 2009 年林权证界址为准，双方共同埋设界桩", "争议林木收益双方各半"],
    ),
    (
        "劳动争议",
        10,
        ["{v}某建材厂拖欠{n}名工人工资", "某工地拖欠农民工工资纠纷"],
        (5, 35),
        (20000, 600000),
        ["用工方于履行期限内一次性支付拖欠工资", "工人撤回集体投诉"],
    ),
    (
        "交通事故",
        10,
        ["{a}与{b}电动车相撞赔偿纠纷", "{a}农用车刮擦{b}轿车赔偿纠纷"],
        (2, 3),
        (2000, 80000),
        ["{b}一次性赔偿{a}医疗费、误工费共计 {amount} 元", "双方就本次事故再无其他争议"],
    ),
    (
        "物业",
        8,
        ["{v}小区业主与物业公司停车费纠纷", "{v}小区电梯维修费用分摊纠纷"],
        (3, 60),
        (1000, 120000),
        ["物业公司于履行期限内完成维修并公示费用", "业主按户分摊费用"],
    ),
    (
        "损害赔偿",
        8,
        ["{a}鱼塘被{b}施工污染赔偿纠纷", "{a}家禽被{b}家犬咬死赔偿纠纷"],
        (2, 6),
        (1000, 90000),
        ["{b}一次性赔偿{a}损失 {amount} 元"],
    ),
    ("医疗", 4, ["{a}与乡镇卫生院医疗费用争议"], (2, 6), (5000, 200000), ["卫生院退还部分费用并书面致歉"]),
    ("征地拆迁", 3, ["{v}村征地补偿款分配纠纷"], (8, 80), (100000, 2000000), ["按村民代表大会决议分配补偿款"]),
    ("合同", 3, ["{a}与{b}农资买卖合同纠纷"], (2, 3), (3000, 50000), ["{b}分两期支付货款"]),
]
PLACES = ["村委会调解室", "镇人民调解委员会", "当事人家中", "司法所调解室", "网格服务站"]


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _id_number(rng: random.Random, county: str) -> str:
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
    body = f"{county}{born:%Y%m%d}{rng.randrange(0, 1000):03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    return body + check


def _phone(rng: random.Random) -> str:
    return rng.choice(["138", "139", "150", "151", "158", "177", "186", "189"]) + f"{rng.randrange(10**8):08d}"


def _party(rng: random.Random, role: str, county: str, minor: bool = False) -> PartyIn:
    return PartyIn(
        role=role,
        name=_name(rng),
        phone=None if minor else _phone(rng),
        id_number=_id_number(rng, county),
        minor=minor,
    )


def seed_demo(session: Session, n: int = 300, now: datetime | None = None, seed: int = 6) -> dict[str, Any]:
    """Seed the demo (idempotent: does nothing when disputes exist). Returns what was made."""
    if session.scalar(select(func.count()).select_from(Dispute)):
        return {"skipped": "disputes exist"}
    now = now or utcnow()
    rng = random.Random(seed)
    towns = list(session.scalars(select(Region).where(Region.level == "township").order_by(Region.code)))
    if not towns:
        return {"skipped": "no divisions loaded"}
    villages: dict[str, list[Region]] = {}
    for v in session.scalars(select(Region).where(Region.level == "village").order_by(Region.code)):
        villages.setdefault(v.code[:9], []).append(v)
    desk = Actor(id=None, name="综治中心·演示", role=Role.DISPATCHER)
    t0 = now - timedelta(days=200)

    # Roster: two people's mediators per town in a sample of towns; 李勇-like veteran in Linxiang.
    town_mediators: dict[str, list[Mediator]] = {}
    sample = sorted(rng.sample(towns, min(len(towns), 36)), key=lambda r: r.code)
    for t in sample:
        town_mediators[t.code] = [
            service.add_mediator(session, _name(rng), "mediator", f"{t.name}人民调解委员会", t.code, at=t0)
            for _ in range(2)
        ]
    linxiang = [t for t in sample if t.code.startswith("430682")]
    if linxiang:
        town_mediators[linxiang[0].code][0].name = "李勇"
    volunteers = []
    for i in range(24):
        kind = "lawyer" if i < 8 else ("counsellor" if i >= 18 else "mediator")
        volunteers.append(
            service.add_mediator(
                session, _name(rng), kind, MARRIAGE_ORG, "430621", center=MARRIAGE_CENTER, phone=_phone(rng), at=t0
            )
        )
    center_towns = [t for t in towns if t.code.startswith("430621")] or towns

    case_ids = list(session.scalars(select(Case.id).order_by(Case.id).limit(40)))
    made: dict[str, int] = {}
    n_center = n // 4
    for i in range(n):
        at = now - timedelta(days=rng.uniform(1, 180), hours=rng.uniform(0, 8))
        if i < n_center:
            d = _center_dispute(session, rng, center_towns, volunteers, at, desk, i)
        else:
            d = _town_dispute(session, rng, sample, villages, town_mediators, case_ids, at, desk)
        made[d.status] = made.get(d.status, 0) + 1
        _progress(session, rng, d, at, now)
    made = {}
    for d in session.scalars(select(Dispute)):
        made[d.status] = made.get(d.status, 0) + 1

    petitions = _petitions(session, rng, towns, now, max(20, n // 4))
    # The center's rota: this month and next, with some leave and two swaps.
    first = now.date().replace(day=1)
    end = (first + timedelta(days=62)).replace(day=1) - timedelta(days=1)
    for vol in volunteers[:6]:
        rota.set_unavailable(
            session, vol.id, [first + timedelta(days=rng.randrange(0, 55)) for _ in range(4)], "出庭/休假"
        )
    gen = rota.generate(session, MARRIAGE_CENTER, first, end, desk, at=now)
    for day_rows in rota.rota(session, MARRIAGE_CENTER, first + timedelta(days=10), end)[:2]:
        on = {x["mediator_id"] for x in day_rows["on_duty"]}
        free = next(x for x in volunteers[6:] if x.id not in on)
        rota.swap(session, MARRIAGE_CENTER, date.fromisoformat(day_rows["day"]), min(on), free.id, "临时出庭", desk)
    session.flush()
    return {"disputes": n, "by_status": made, "petitions": petitions, "mediators": len(volunteers) + 2 * len(sample),
            "rota_days": gen["days"], "rota_fair": gen["fair"]}  # fmt: skip


def _center_dispute(
    session: Session,
    rng: random.Random,
    towns: list[Region],
    volunteers: list[Mediator],
    at: datetime,
    desk: Actor,
    i: int,
) -> Dispute:
    town = rng.choice(towns)
    kind = rng.choices(["divorce", "domestic_violence", "minors"], [85, 10, 5])[0]
    a, b = _party(rng, "申请人", "430621"), _party(rng, "被申请人", "430621")
    parties = [a, b]
    if kind == "minors" or rng.random() < 0.3:
        parties.append(_party(rng, "第三人", "430621", minor=True))
    an, bn = a.name[0] + "某", b.name[0] + "某"  # titles name nobody in full (X某, as court documents do)
    title = {"divorce": f"{an}诉{bn}离婚纠纷（诉前调解）", "domestic_violence": f"{an}反映{bn}家庭暴力",
             "minors": f"{an}与{bn}子女抚养纠纷"}[kind]  # fmt: skip
    inp = DisputeIn(
        title=title,
        dispute_type="婚姻家庭",
        people_count=len(parties),
        amount=float(rng.randrange(0, 400000, 1000)) if kind == "divorce" else None,
        place=f"{town.name}",
        region_code=town.code,
        description=f"{COURT}立案前委派调解（逢离必调）。" if kind == "divorce" else "妇联接待来访后登记。",
        source="court" if kind == "divorce" else "walk_in",
        source_ref=f"（{at.year}）湘0621民诉前调{1000 + i}号" if kind == "divorce" else "",
        way="诉调对接" if kind == "divorce" else "人民调解",
        organisation=MARRIAGE_ORG,
        mediator_id=rng.choice(volunteers).id,
        center=MARRIAGE_CENTER,
        family_kind=kind,
        parties=parties,
        risk=RiskInput(
            threats=kind == "domestic_violence" and rng.random() < 0.6, prior_violence=kind == "domestic_violence"
        ),  # fmt: skip
    )
    return service.register_dispute(session, inp, desk, at)


def _town_dispute(
    session: Session,
    rng: random.Random,
    towns: list[Region],
    villages: dict[str, list[Region]],
    mediators: dict[str, list[Mediator]],
    case_ids: list[int],
    at: datetime,
    desk: Actor,
) -> Dispute:
    typ, _w, titles, people, amount, _terms = rng.choices(TYPES, [t[1] for t in TYPES])[0]
    town = rng.choice(towns)
    vs = villages.get(town.code) or [town]
    village = rng.choice(vs)
    county = town.code[:6]
    a, b = _party(rng, "申请人", county), _party(rng, "被申请人", county)
    n_people = rng.randint(*people)
    title = rng.choice(titles).format(a=a.name[0] + "某", b=b.name[0] + "某", v=village.name, n=n_people)
    source = rng.choices(["sweep", "walk_in", "case", "court"], [45, 30, 20 if case_ids else 0, 5])[0]
    grid = f"{village.code}001" if len(village.code) == 12 else None
    inp = DisputeIn(
        title=title,
        dispute_type=typ,
        scale="较大" if n_people >= 10 else "一般",
        people_count=n_people,
        amount=float(rng.randrange(amount[0], amount[1] + 1, 100)) if amount[1] else None,
        place=f"{town.name}{village.name if village is not town else ''}",
        region_code=village.code,
        grid_code=grid if source == "sweep" else None,
        description=f"{title}。" + ("网格员排查发现，双方多次争吵。" if source == "sweep" else "当事人来访反映。"),
        source=source,
        source_ref=f"排查{at:%Y%m%d}"
        if source == "sweep"
        else (f"（{at.year}）湘06诉前调{rng.randrange(100, 999)}号" if source == "court" else ""),  # fmt: skip
        case_id=rng.choice(case_ids) if source == "case" else None,
        way="人民调解",
        mediator_id=rng.choice(mediators[town.code]).id,
        parties=[a, b],
        risk=RiskInput(threats=rng.random() < 0.12, prior_violence=rng.random() < 0.06),
    )
    return service.register_dispute(session, inp, desk, at)


def _progress(session: Session, rng: random.Random, d: Dispute, at: datetime, now: datetime) -> None:
    """Drive one dispute as far as its age allows, with realistic choices along the way."""
    m = session.get(Mediator, d.mediator_id) if d.mediator_id else None
    me = Actor(id=None, name=f"调解员·{m.name}" if m else "调解员", role=Role.MEDIATOR)

    def step(days: float) -> datetime | None:
        nonlocal at
        nxt = at + timedelta(days=days, hours=rng.uniform(0, 5))
        if nxt >= now:
            return None
        at = nxt
        return at

    def do(action: str, **kw: Any) -> None:
        service.act(session, d.id, action, me, DisputeActionInput(**kw), at)

    if step(rng.uniform(0, 2)) is None:
        return
    if rng.random() < 0.05:
        do("refuse", party_id=d.parties[1].id, reason="被申请人明确表示不同意调解，要求直接起诉")
        return
    do("accept")
    if rng.random() < 0.06:
        return  # stalled: parties unreachable (shows up as overdue once the month has passed)
    marriage = d.center == MARRIAGE_CENTER
    if marriage and d.family_kind == "divorce" and rng.random() < 0.4:
        do("start_cooling_off", note="双方同意冷静 30 天")
    threats, violence = bool(d.risk_factors.get("threats")), bool(d.risk_factors.get("prior_violence"))
    for k in range(rng.randint(1, 3)):
        if step(rng.uniform(2, 9)) is None:
            return
        calm = k > 0 and rng.random() < 0.7
        do("hold_session", session=SessionIn(
            place=rng.choice(PLACES), participants=[p.name for p in d.parties] + [me.name],
            notes=rng.choice(["释法明理，双方情绪趋于平稳", "背靠背调解，分别做工作", "邀请村干部、族老参与调解",
                              "心理咨询师参与疏导", "律师解答法律问题"]),
            risk=RiskInput(threats=threats and not calm, prior_violence=violence),
        ))  # fmt: skip
    if rng.random() < 0.03:
        do("record_incident", incident_kind=rng.choice(["民转刑", "群体性事件", "越级上访"]), note="调解期间矛盾激化")
    if step(rng.uniform(1, 6)) is None:
        return
    if marriage:
        outcome = rng.choices(["和好", "协议离婚", "转诉讼"], [47, 30, 23])[0]
        if d.cooling_off_until and outcome == "协议离婚" and at.date() < d.cooling_off_until:
            outcome = "和好"
    else:
        outcome = rng.choices(["达成协议", "终止"], [84, 16])[0]
    if outcome in ("转诉讼", "终止"):
        do(
            "terminate",
            reason="双方分歧较大，调解不成",
            routes=["诉讼"] if marriage else rng.sample(["诉讼", "仲裁", "行政"], 1),
        )
        return
    typ = next((t for t in TYPES if t[0] == d.dispute_type), TYPES[0])
    names = {"a": d.parties[0].name, "b": d.parties[1].name, "amount": f"{int(d.amount or 5000):,}"}
    if outcome == "和好":
        terms = ["双方自愿和好，申请人撤回离婚起诉", "双方共同抚养子女、互相尊重，不得实施家庭暴力"]
    elif outcome == "协议离婚":
        terms = ["双方自愿离婚", "子女由申请人抚养，被申请人每月支付抚养费 1,200 元", "共同财产按各半分割"]
    else:
        terms = [t.format(**names) for t in typ[5]]
    do("reach_agreement", agreement=AgreementIn(
        facts=d.description, terms=terms, performance_manner="按协议约定当面履行" if outcome != "和好" else "共同生活",
        performance_deadline=(at + timedelta(days=rng.randint(7, 45))).date(), outcome=outcome,
    ))  # fmt: skip
    if step(rng.uniform(0, 2)) is None:
        return
    doc = service.upload_document(
        session, d.id, "signed_agreement", f"{d.code}-signed.pdf", documents.agreement_pdf(d, m), me, at
    )
    do("sign", document_id=doc.id)
    if rng.random() < 0.35 and step(rng.uniform(1, 20)) is not None:
        do("apply_judicial", note="双方共同申请司法确认")
        if step(rng.uniform(5, 15)) is not None:
            do("judicial_result", result="确认有效")
    if outcome == "和好" and step(rng.uniform(10, 25)) is not None:
        do("revisit", note="回访：夫妻关系稳定", evaluation="满意")
    if step(rng.uniform(5, 40)) is None:
        return
    do("complete_performance", note="已按约履行")
    if step(rng.uniform(3, 20)) is None:
        return
    do("revisit", note="回访：协议履行到位，双方无新矛盾", evaluation=rng.choice(["满意", "满意", "基本满意"]))
    if step(rng.uniform(1, 5)) is None:
        return
    do("close")


def _petitions(session: Session, rng: random.Random, towns: list[Region], now: datetime, n: int) -> dict[str, int]:
    desk = Actor(id=None, name="信访局·演示", role=Role.DISPATCHER)
    subjects = ["征地补偿款未足额发放", "拖欠农民工工资", "宅基地审批", "低保资格认定", "山林权属争议",
                "小区物业服务质量", "医疗费用报销"]  # fmt: skip
    people = [(_name(rng), _phone(rng), _id_number(rng, "430603")) for _ in range(max(5, n // 2))]
    made = 0
    backlog = 0
    for i in range(n):
        at = now - timedelta(days=rng.uniform(5, 240))
        name, phone, idn = rng.choice(people[: max(3, len(people) // 3)] if rng.random() < 0.35 else people)
        yunxi = i < n // 5
        town = rng.choice([t for t in towns if t.code.startswith("430603")] if yunxi else towns)
        form = rng.choices(["来信", "来访", "网上"], [25, 40, 35])[0]
        p = service.register_petition(session, PetitionIn(
            form=form, petitioner_name=name, petitioner_phone=phone, petitioner_id_number=idn,
            people_count=rng.choice([1, 1, 1, 3, 8]), subject=rng.choice(subjects),
            content="来访人反映情况，要求解决。",
            region_code=town.code,
            received_level=rng.choices(["county", "city", "province"], [80, 15, 5])[0] if form == "来访" else "county",
        ), desk, at)  # fmt: skip
        made += 1
        steps: list[tuple[str, dict[str, Any]]] = [("accept", {})]
        long_running = rng.random() < (0.5 if yunxi else 0.1)
        if long_running:
            steps.append(("mark_backlog", {"owner": f"{town.name}党委书记（包案）",
                                           "deadline": (at + timedelta(days=120)).date()}))  # fmt: skip
            backlog += 1
        steps += [("reply", {"reply": "经调查核实，已责成相关单位依法处理"}), ("close", {"resolved": True})]
        for action, kw in steps:
            at = at + timedelta(days=rng.uniform(3, 40 if action == "close" and long_running else 15))
            if at >= now or (action == "close" and long_running and not yunxi and rng.random() < 0.6):
                break
            service.petition_act(session, p.id, action, desk, PetitionActionInput(**kw), at)
    return {"petitions": made, "backlog": backlog}
