from __future__ import annotations

from flask import jsonify

from core.plugins import hookimpl


@hookimpl
def mosaic_register_routes(api, web) -> None:
    @api.get("/version")
    def version():
        return jsonify({"version": 2})


@hookimpl
def mosaic_load_data(session) -> None:
    from .models import Item

    if session.query(Item).filter_by(name="first shelf item").first() is None:
        session.add(Item(name="first shelf item", code="FIRST-SHELF-ITEM"))


@hookimpl
def mosaic_post_upgrade(session, addon, from_version, to_version) -> None:
    if addon == "shelf":
        from .models import Item

        session.add(Item(name=f"upgraded {from_version} to {to_version}", code="UPGRADE-NOTE"))
