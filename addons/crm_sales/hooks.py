"""Hook implementations of the sales addon (core's hooks and the contacts addon's)."""

from __future__ import annotations

from typing import Any

from core.plugins import hookimpl


@hookimpl
def mosaic_register_routes(api: Any, web: Any) -> None:
    from addons.crm_sales import api as api_module
    from addons.crm_sales import views

    api_module.register(api, web)
    views.register(web)


@hookimpl
def mosaic_load_data(session: Any) -> None:
    from addons.crm_sales import data

    data.load(session)


@hookimpl
def mosaic_load_demo(session: Any) -> None:
    from addons.crm_sales import demo

    demo.load(session)


@hookimpl
def mosaic_pre_uninstall(session: Any, addon: str) -> None:
    if addon == "crm_sales":
        from addons.crm_sales import demo

        demo.remove_demo_users(session)


@hookimpl
def contacts_merge_records(
    session: Any, kind: str, source_id: int, target_id: int
) -> dict[str, int]:
    """Leads and opportunities follow a merged account or contact to the one that stays."""
    from addons.crm_sales import services

    return services.repoint_customer(session, kind, source_id, target_id)


@hookimpl
def contacts_forget_person(session: Any, contact_id: int) -> None:
    """Leads keep a copy of the person's name, e-mail and phone: erase it too."""
    from addons.crm_sales import services

    services.forget_person(session, contact_id)
