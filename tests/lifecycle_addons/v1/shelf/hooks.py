from __future__ import annotations

from flask import jsonify

from core.plugins import hookimpl


@hookimpl
def mosaic_register_routes(api, web) -> None:
    @api.get("/version")
    def version():
        return jsonify({"version": 1})


@hookimpl
def mosaic_load_data(session) -> None:
    from .models import Item

    if session.query(Item).filter_by(name="first shelf item").first() is None:
        session.add(Item(name="first shelf item"))
