"""Engine and session set-up for SQLite (embedded, WAL) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, DateTime, Engine, Integer, Table, create_engine, event, inspect, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapper, Session, UOWTransaction, make_transient, sessionmaker
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (SQLite has no time zones); always handed back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use pingan.timeutil")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


def normalise_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def json_text(value: Any) -> str:
    """JSON columns' text (routing decisions, timeline data …), by orjson: the standard library's encoder was
    a twentieth of an intake batch's CPU. Non-ASCII characters are written as they are; keys that are not
    strings become strings, as the standard library does."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    kwargs.setdefault("json_serializer", json_text)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60}, **kwargs)
        _sqlite_pragmas(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    _cache_multirow_statements()
    return create_engine(url, **kwargs)


def _cache_multirow_statements() -> None:
    """psycopg re-parses every statement with more than 50 parameters on each execution (its conversion
    cache skips them), and SQLAlchemy's multi-row INSERTs of an intake batch have thousands: a sixth of the
    batch's CPU. The statements repeat (same tables, same batch sizes), so let psycopg cache them too."""
    try:
        from psycopg import _queries
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return
    _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, 65_535)
    _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, 1 << 20)


# From this many new rows of one table in a flush, their ids are drawn before the INSERT (PostgreSQL).
PREFETCH_IDS_FROM = 16
_NEXT_IDS = text("SELECT nextval(CAST(:seq AS regclass)) FROM generate_series(1, :n)")
_SERIAL = text("SELECT pg_get_serial_sequence(:t, 'id')")
_SEQUENCES: weakref.WeakKeyDictionary[Engine, dict[str, str | None]] = weakref.WeakKeyDictionary()


def _prefetch_ids(session: Session, _ctx: UOWTransaction, _instances: object) -> None:
    """Give many new rows of one table their ids before the flush, drawn from the table's sequence in one
    query. Rows without ids need INSERT … RETURNING id, which SQLAlchemy sends as one statement with a
    parameter per value (an intake batch's timeline events: 270 kB, 9,000 parameters) that psycopg parses
    again whenever the row count changes. With ids, the rows go out as one short INSERT, pipelined."""
    if not session.new or session.get_bind().dialect.name != "postgresql":
        return
    pending: defaultdict[type, list[Any]] = defaultdict(list)
    for obj in session.new:
        pending[type(obj)].append(obj)
    for cls, objs in pending.items():
        table: Any = inspect(cls).local_table
        if len(objs) < PREFETCH_IDS_FROM or not isinstance(table, Table):
            continue
        objs = [o for o in objs if getattr(o, "id", 0) is None]
        ids = next_ids(session, table, len(objs)) if len(objs) >= PREFETCH_IDS_FROM else None
        if ids is None:
            continue
        objs.sort(key=lambda o: instance_state(o).insert_order or 0)
        for obj, new_id in zip(objs, ids, strict=True):
            obj.id = new_id


def next_ids(session: Session, table: Table, n: int) -> list[int] | None:
    """n ids of the table drawn from its sequence in one query (PostgreSQL), ascending; None when the table's
    key is not an integer `id` with a sequence."""
    seq = _sequence(session, table)
    if seq is None:
        return None
    return sorted(int(i) for i in session.connection().execute(_NEXT_IDS, {"seq": seq, "n": n}).scalars())


def _sequence(session: Session, table: Table) -> str | None:
    """The sequence behind the table's integer `id` primary key, or None."""
    pk = list(table.primary_key.columns)
    if len(pk) != 1 or pk[0].name != "id" or not isinstance(pk[0].type, Integer):
        return None
    known = _SEQUENCES.setdefault(session.get_bind().engine, {})
    if table.name not in known:
        known[table.name] = session.connection().scalar(_SERIAL, {"t": table.name})
    return known[table.name]


event.listen(Session, "before_flush", _prefetch_ids)


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see the "begin" hook).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front, so two writers queue instead of deadlocking when both
        # try to upgrade a read lock. Read-only work asks for DEFERRED (WAL readers never block writers);
        # "NONE" leaves every statement in its own transaction (autocommit).
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode != "NONE":
            conn.exec_driver_sql(f"BEGIN {mode}")


_DATABASE_KEYS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def database_key(session: Session) -> str:
    """The session's database as a string (its URL without the password), for per-database caches. Rendering
    a URL quotes every part of it: intake asks several times per case, so it is rendered once per engine."""
    engine = session.get_bind().engine
    key = _DATABASE_KEYS.get(engine)
    if key is None:
        key = _DATABASE_KEYS[engine] = engine.url.render_as_string(hide_password=True)
    return key


def is_sqlite(engine_or_session: Engine | Session) -> bool:
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return bind.dialect.name == "sqlite"


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def make_readonly_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reads: on SQLite they do not take the write lock."""
    return sessionmaker(engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False)


def make_autocommit_factory(engine: Engine) -> sessionmaker[Session]:
    """Every statement its own transaction: for inspection tools and tests that watch a live database."""
    eng = engine.execution_options(isolation_level="AUTOCOMMIT", sqlite_begin="NONE")
    return sessionmaker(eng, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert_new(session: Session) -> None:
    """Write the session's new objects without the unit of work, one statement per table (COPY on
    PostgreSQL, an executemany INSERT on SQLite), then let them go: they leave the session, transient, so
    callers read what they need before.

    For a write-only batch (intake: hundreds of new cases and their events, nothing else pending), the unit of
    work's bookkeeping cost a third of the flush, and psycopg's per-row parameter handling most of the rest.
    The session's after_flush listeners (KPI facts, page caches) run as after a flush. Anything else pending,
    or rows of one table that set different columns, go through a plain flush instead.
    """
    new = sorted(session.new, key=lambda o: instance_state(o).insert_order or 0)  # ids in the order added
    if not new:
        return
    if session.dirty or session.deleted:
        session.flush()
        return
    by_table: defaultdict[Table, list[dict[str, Any]]] = defaultdict(list)
    for obj in new:
        mapper = inspect(type(obj))
        columns, links = _layout(mapper)
        values = instance_state(obj).dict
        for rel_key, local, remote in links:
            # many-to-one links the ORM would turn into foreign keys at flush time (a link row's case_id)
            target = values.get(rel_key)
            if target is not None and values.get(local) is None:
                values[local] = getattr(target, remote)
        by_table[mapper.local_table].append({col: values[attr] for attr, col in columns if attr in values})
    for rows in by_table.values():
        if any(r.keys() != rows[0].keys() for r in rows):
            session.flush()
            return
    conn = session.connection()
    for table in Base.metadata.sorted_tables:
        if table in by_table:
            _insert_rows(conn, table, by_table[table])
    session.dispatch.after_flush(session, None)
    for obj in new:
        make_transient(obj)


@cache
def _layout(mapper: Mapper[Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """A mapper's (attribute, column key) pairs, and its many-to-one links as (relationship, local attribute,
    the target's attribute)."""
    columns = [(p.key, p.columns[0].key) for p in mapper.column_attrs]
    links = [
        (rel.key, mapper.get_property_by_column(local).key, rel.mapper.get_property_by_column(remote).key)
        for rel in mapper.relationships
        if rel.direction.name == "MANYTOONE"
        for local, remote in rel.local_remote_pairs
    ]
    return columns, links


COPY_FROM = 16  # fewer rows go by INSERT: COPY costs a round trip more (a lone case's latency)


def _insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Rows that all set the same columns. PostgreSQL, from `COPY_FROM` rows: COPY, with the columns' own bind
    processing (JSON, encryption, UTC) and their scalar defaults; a column left out with a computed default
    takes the INSERT."""
    cols = [table.c[k] for k in rows[0]]
    missing = [c for c in table.c if c.key not in rows[0] and c.default is not None]
    computed = any(not getattr(c.default, "is_scalar", False) for c in missing)
    if conn.dialect.name != "postgresql" or len(rows) < COPY_FROM or computed:
        conn.execute(table.insert(), rows)
        return
    procs = [c.type._cached_bind_processor(conn.dialect) for c in cols]
    fixed = [getattr(c.default, "arg", None) for c in missing]
    quote = conn.dialect.identifier_preparer
    names = ", ".join(quote.quote(c.name) for c in [*cols, *missing])
    sql = f"COPY {quote.format_table(table)} ({names}) FROM STDIN"
    raw: Any = conn.connection.dbapi_connection
    try:
        with raw.cursor() as cur, cur.copy(sql) as copy:
            for row in rows:
                values = [v if p is None else p(v) for p, v in zip(procs, row.values(), strict=True)]
                copy.write_row(values + fixed)
    except raw.Error as exc:
        raise DBAPIError.instance(sql, None, exc, type(raw).Error, dialect=conn.dialect) from exc
