"""Many workers, one truth: parallel refresh replays and throttling shared through Redis.

These tests run real parallel requests against a database of their own (not the rolled-back
test transaction, which is one connection), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import random
import socket
import threading
from urllib.parse import urlsplit

import pytest

from core.app import create_app
from core.bootstrap import initialise
from core.db import Database
from core.registry import Registry
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_settings

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture(scope="module")
def own_db(database_factory):
    database = Database(database_factory.new_url())
    initialise(database, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    yield database
    database.dispose()


def _app(own_db, tmp_path, **settings):
    return create_app(
        make_settings(tmp_path, own_db.url, **settings), db=own_db, registry=Registry.discover([])
    )


def _login(client, addr="10.0.0.1", password=ADMIN_PASSWORD):
    return client.post(
        "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": password},
        environ_base={"REMOTE_ADDR": addr},
    )  # fmt: skip


def test_parallel_replays_of_one_refresh_token_let_at_most_one_through(own_db, tmp_path):
    app = _app(own_db, tmp_path)
    refresh = _login(app.test_client()).get_json()["refresh_token"]
    workers = 6
    barrier = threading.Barrier(workers)
    results: list[int] = []

    def replay() -> None:
        client = app.test_client()
        barrier.wait()
        results.append(
            client.post("/api/v1/auth/refresh", json={"refresh_token": refresh}).status_code
        )

    threads = [threading.Thread(target=replay) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == workers
    assert results.count(200) <= 1
    assert set(results) <= {200, 401}
    # every later use of the token fails
    again = app.test_client().post("/api/v1/auth/refresh", json={"refresh_token": refresh})
    assert again.status_code == 401


def _redis_up() -> bool:
    parts = urlsplit(REDIS_URL)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="no Redis server on 127.0.0.1:6379")
def test_login_throttle_is_shared_by_workers_through_redis(own_db, tmp_path):
    first = _app(own_db, tmp_path, redis_url=REDIS_URL)
    second = _app(own_db, tmp_path, redis_url=REDIS_URL)
    assert "redis" in type(first.extensions["mosaic_limiter"].storage).__name__.lower()
    addr = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    limit = int(first.extensions["mosaic"].settings.login_rate_limit.split()[0])
    clients = [first.test_client(), second.test_client()]
    for i in range(limit):
        assert _login(clients[i % 2], addr, password="Wrong-Pass-123").status_code == 401
    # the next attempt is refused by either worker, even with the right password
    assert _login(clients[0], addr).status_code == 429
    assert _login(clients[1], addr).status_code == 429


def test_memory_throttle_is_the_default(own_db, tmp_path):
    app = _app(own_db, tmp_path)
    assert "memory" in type(app.extensions["mosaic_limiter"].storage).__name__.lower()
