"""The synthetic grid layer, loaded once into each test database (idempotent: later calls find it there)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from pingan.db import session_scope
from pingan.geo.synth import SynthLayer, ensure_demo_layer, generate


@pytest.fixture(scope="session")
def synth_layer() -> SynthLayer:
    return generate()


@pytest.fixture
def layer(db) -> object:  # type: ignore[no-untyped-def]
    with session_scope(db.factory) as s:
        ensure_demo_layer(s)
    return db


def grid_session(db) -> Session:  # type: ignore[no-untyped-def]
    return db.session()
