"""The floor for bench.http: the least a Flask + psycopg endpoint can do per request, one
indexed query (an instance by primary key), served by gunicorn with the app's settings.

It connects as the app role like the app, so row-level security applies: each connection
selects the benchmark's workspace once, session-wide (the app sets it per transaction).
One connection per gunicorn thread, autocommit, no ORM, no templates, no session cookie.

    FLOOR_DATABASE_URL=postgresql://railsaas_app:...@host/db FLOOR_TENANT_ID=<uuid> \\
        gunicorn bench.floor_app:app
"""

from __future__ import annotations

import os
import threading

import psycopg
from flask import Flask, abort, jsonify

app = Flask(__name__)
_local = threading.local()


def _conn() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = psycopg.connect(os.environ["FLOOR_DATABASE_URL"], autocommit=True)
        conn.execute(
            "SELECT set_config('app.tenant_id', %s, false)", (os.environ["FLOOR_TENANT_ID"],)
        )
        _local.conn = conn
    return conn


@app.get("/instances/<uuid:instance_id>")
def instance(instance_id):
    row = (
        _conn()
        .execute("SELECT id, name, status, domain FROM instances WHERE id = %s", (instance_id,))
        .fetchone()
    )
    if row is None:
        abort(404)
    return jsonify(id=str(row[0]), name=row[1], status=row[2], domain=row[3])


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
