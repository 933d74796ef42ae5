"""The demo's own, deliberately simple choice of department for a matter: the message's label, refined by a
few keywords, gives a city department code (data/policy/departments.yaml); the county counterpart of that
department handles it when the county has one. This is the *simulated dispatcher's* judgement, not the
product's router (pingan.dispatch)."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from pingan.orgs import service as orgs
from pingan.orgs.models import Department

# label → (keyword rules checked in order, default code)
RULES: dict[str, tuple[list[tuple[str, str]], str]] = {
    "城乡建设": (
        [
            (r"违建|违章|占道|摆摊|噪音|噪声|扰民|渣土|广告牌|路灯|井盖|城管", "cg"),
            (r"停水|供水|水压|自来水", "gs"),
            (r"停电|供电|电压|电网", "gd"),
            (r"燃气|天然气|煤气", "rq"),
            (r"拆迁|征收|征地|规划|不动产|土地", "zrzy"),
            (r"公积金", "gjj"),
        ],
        "zj",
    ),
    "劳动和社会保障": (
        [
            (r"医保|医疗保险|报销", "yb"),
            (r"低保|救助|养老院|残疾|困难", "mz"),
            (r"退役|军人|复员|转业", "tyjr"),
            (r"公积金", "gjj"),
        ],
        "rs",
    ),
    "教育文体": ([(r"旅游|景区|图书馆|文化|广场舞", "wl")], "jy"),
    "商贸旅游": (
        [
            (r"旅游|景区|导游|旅行社", "wl"),
            (r"传销|非法集资", "ga"),
            (r"招商|外资|电商|商场", "sw"),
        ],
        "scjg",
    ),
    "环境保护": ([(r"垃圾|清扫|公厕", "cg"), (r"河道|水库|排涝|堤", "sl")], "sthj"),
    "卫生计生": ([(r"医保|报销", "yb"), (r"药店|药品|保健品", "scjg")], "wj"),
    "交通运输": ([(r"违停|驾照|驾驶证|车牌|红绿灯|信号灯|交警|酒驾", "ga")], "jtys"),
}
# A department that shares the work on a 协调件, by lead department code.
CO: dict[str, str] = {
    "zj": "cg",
    "cg": "zj",
    "sthj": "cg",
    "scjg": "wl",
    "wl": "scjg",
    "jtys": "ga",
    "ga": "jtys",
    "rs": "yb",
    "yb": "rs",
    "jy": "wl",
    "wj": "yb",
    "mz": "rs",
    "zrzy": "zj",
    "sl": "sthj",
    "gs": "zj",
    "gd": "zj",
    "rq": "scjg",
    "gjj": "zj",
    "sw": "scjg",
    "tyjr": "mz",
}
# A plausible wrong first choice (the department then returns the case: 退单).
WRONG: dict[str, str] = {
    "zj": "cg",
    "cg": "zj",
    "sthj": "cg",
    "scjg": "sw",
    "wl": "scjg",
    "jtys": "ga",
    "ga": "jtys",
    "rs": "yb",
    "yb": "rs",
    "jy": "rs",
    "wj": "yb",
    "mz": "rs",
    "zrzy": "zj",
    "sl": "sthj",
    "gs": "zj",
    "gd": "cg",
    "rq": "zj",
    "gjj": "zj",
    "sw": "scjg",
    "tyjr": "mz",
}
_COMPILED = {label: ([(re.compile(p), c) for p, c in rules], d) for label, (rules, d) in RULES.items()}


def department_code(label: str, text: str) -> str:
    rules, default = _COMPILED.get(label, ([], "zj"))
    for pattern, code in rules:
        if pattern.search(text):
            return code
    return default


class Departments:
    """City department code + county → the department row that handles it (cached per session)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._cache: dict[tuple[str, str], Department] = {}

    def get(self, code: str, county_code: str) -> Department:
        key = (code, county_code)
        dep = self._cache.get(key)
        if dep is None:
            dep = orgs.counterpart(self.session, code, county_code)
            if dep is None:
                raise LookupError(f"department {code} is not in the departments policy")
            self._cache[key] = dep
        return dep
