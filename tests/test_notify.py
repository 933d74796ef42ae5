"""The outbox is delivered through a webhook that a real HTTP server on localhost receives."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from sqlalchemy import select

from pingan.notify.models import OutboxMessage
from pingan.notify.outbox import WebhookSender, deliver
from tests.helpers import act, dep_id, new_case


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    fail_first = 0

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if _Receiver.fail_first > 0:
            _Receiver.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        _Receiver.received.append({"body": body, "key": self.headers["Idempotency-Key"]})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_webhook_receives_outbox_messages_and_retries(api, session, db) -> None:  # type: ignore[no-untyped-def]
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Receiver.received = []
    _Receiver.fail_first = 1
    try:
        cid = new_case(api, "N-1")["case_id"]
        act(api, "zuoxi", cid, "register")
        act(api, "paiqian", cid, "assign", department_id=dep_id(session, "cg"))
        act(api, "paiqian", cid, "urge", note="请尽快签收")
        sender = WebhookSender(f"http://127.0.0.1:{server.server_port}/hook")
        assert deliver(db.factory, [sender]) == 1  # the first POST got a 503 and stays pending
        assert deliver(db.factory, [sender]) == 1
        assert deliver(db.factory, [sender]) == 0
        kinds = sorted(r["body"]["kind"] for r in _Receiver.received)
        assert kinds == ["assigned", "urge"]
        assert all(r["body"]["case_id"] == cid and r["key"] for r in _Receiver.received)
        statuses = set(session.scalars(select(OutboxMessage.status)))
        assert statuses == {"sent"}
    finally:
        server.shutdown()
