"""Requests per second of a generated list endpoint against a bare Flask + SQLAlchemy endpoint.

Both answer ``GET ...?limit=50`` on the same database with the same SQL (a count, the page of
gadgets ordered by name, their parts with ``selectinload``) and the same JSON. The generated
one is the real thing: bearer authentication, permission check, company scoping, query-string
parsing, marshmallow dump. The bare one is what a person would write by hand for that one
query, with no authentication at all. Both run in this process through the WSGI test client,
in alternating rounds, so that the machine's mood affects them alike.

    python benchmarks/bench_api.py [--rows 500] [--requests 300] [--rounds 5]

``MOSAIC_BENCH_DATABASE_URL`` picks the database (default: a SQLite file in a temporary
folder); it must be an empty database, or a PostgreSQL server URL ending in a database that
may be created. The aim is a ratio of at least 0.5.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask import Flask, jsonify  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import selectinload  # noqa: E402

from core.app import create_app  # noqa: E402
from core.bootstrap import ensure_database_exists, initialise  # noqa: E402
from core.config import Settings  # noqa: E402
from core.db import Database  # noqa: E402
from core.lifecycle import Lifecycle  # noqa: E402
from core.registry import Registry  # noqa: E402
from core.tenancy import unscoped  # noqa: E402

FIXTURES = ROOT / "tests" / "fixture_addons"
EMAIL, PASSWORD = "bench@example.com", "Quiet-Harbor-2024!"
PAGE = 50


def prepare(url: str, rows: int, instance: Path) -> tuple[Database, Registry, Settings]:
    ensure_database_exists(url)
    db = Database(url)
    initialise(db, admin_email=EMAIL, admin_password=PASSWORD)
    registry = Registry.discover([FIXTURES])
    lifecycle = Lifecycle(db, registry)
    if "testkit" not in lifecycle.installed():
        lifecycle.install(["testkit"])
    from testkit.models import Gadget, Part

    with db.unit_of_work() as session:
        if not session.scalar(select(func.count()).select_from(Gadget)):
            session.add_all(
                Gadget(
                    name=f"Gadget {i:05d}", price=Decimal(i % 997) + Decimal("0.25"), company_id=1,
                    notes=None if i % 3 else f"note {i}",
                    parts=[Part(label=f"part {i}.{j}", company_id=1) for j in range(3)],
                )
                for i in range(rows)
            )  # fmt: skip
    settings = Settings.from_env(
        instance_path=instance, database_url=url, secret_key="bench-" + "k" * 40,
        hot_reload=False, login_rate_limit="1000 per minute",
    )  # fmt: skip
    return db, registry, settings


def bare_app(db: Database) -> Flask:
    """The same query and the same JSON, written by hand, without any framework around it."""
    from testkit.models import Gadget

    app = Flask("bare")

    @app.get("/gadgets/")
    def gadgets():
        session = db.session
        # Mosaic's company-scoping listener sits on every SQLAlchemy Session of this process
        # and refuses a request without identity: the bare endpoint filters the company itself.
        with unscoped():
            base = select(Gadget).where(Gadget.company_id.in_((1,)), Gadget.archived.is_(False))
            total = session.scalar(select(func.count()).select_from(base.subquery()))
            page = session.scalars(
                base.order_by(Gadget.name.asc().nulls_last(), Gadget.id.asc())
                .limit(PAGE)
                .offset(0)
                .options(selectinload(Gadget.parts))
            ).all()
            items = [
                {
                    "id": g.id, "version": g.version, "company_id": g.company_id,
                    "created_at": g.created_at.isoformat(), "updated_at": g.updated_at.isoformat(),
                    "created_by_id": g.created_by_id, "updated_by_id": g.updated_by_id,
                    "name": g.name, "price": str(g.price), "currency": g.currency, "notes": g.notes,
                    "archived": g.archived, "parts": [{"id": p.id, "label": p.label} for p in g.parts],
                }
                for g in page
            ]  # fmt: skip
        session.remove()
        return jsonify({"items": items, "total": total, "limit": PAGE, "offset": 0})

    return app


def measure(client, url: str, headers: dict[str, str], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        response = client.get(url, headers=headers)
        if response.status_code != 200:
            raise SystemExit(
                f"{url}: {response.status_code} {response.get_data(as_text=True)[:300]}"
            )
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500, help="gadgets in the table (3 parts each)")
    parser.add_argument("--requests", type=int, default=300, help="requests per round and endpoint")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("MOSAIC_BENCH_DATABASE_URL") or f"sqlite:///{tmp}/bench.db"
        db, registry, settings = prepare(url, args.rows, Path(tmp) / "instance")
        generated = create_app(settings, db=db, registry=registry).test_client()
        token = generated.post(
            "/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}
        ).get_json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        bare = bare_app(db).test_client()
        generated_url, bare_url = f"/api/v1/testkit/gadgets/?limit={PAGE}", "/gadgets/"

        ours, theirs = (
            generated.get(generated_url, headers=auth).get_json(),
            bare.get(bare_url).get_json(),
        )
        if ours != theirs:
            raise SystemExit(
                "the two endpoints do not answer the same JSON; the comparison would be unfair"
            )
        measure(generated, generated_url, auth, 30)  # warm up both
        measure(bare, bare_url, {}, 30)

        gen_rates, bare_rates = [], []
        for _ in range(args.rounds):
            gen_rates.append(measure(generated, generated_url, auth, args.requests))
            bare_rates.append(measure(bare, bare_url, {}, args.requests))
        db.dispose()

    gen, base = statistics.median(gen_rates), statistics.median(bare_rates)
    backend = url.split(":", 1)[0]
    print(
        f"database: {backend}; {args.rows} gadgets x 3 parts; page of {PAGE}; {args.rounds} rounds of {args.requests} requests"
    )
    print(f"generated endpoint (auth, scoping, parsing, marshmallow): {gen:8.1f} req/s")
    print(f"bare Flask + SQLAlchemy endpoint (same query, no auth):   {base:8.1f} req/s")
    print(f"ratio generated / bare: {gen / base:.2f}  (aim: >= 0.50)")


if __name__ == "__main__":
    main()
