"""Every table, imported in one place so that Alembic and `create_all` see the whole schema."""

from __future__ import annotations

import importlib

from pingan.db import Base

# Domain packages with tables; a new package adds its models module here.
MODEL_MODULES = [
    "pingan.orgs.models",
    "pingan.geo.models",
    "pingan.cases.models",
    "pingan.notify.models",
    "pingan.mediation.models",
    "pingan.security.models",
    "pingan.auth.models",
    "pingan.metrics.models",
    "pingan.dispatch.models",
    "pingan.sim.models",
    "pingan.web.models",
    "pingan.audit.models",
]

for _name in MODEL_MODULES:
    importlib.import_module(_name)

metadata = Base.metadata
