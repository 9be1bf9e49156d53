from __future__ import annotations

from core.plugins import hookimpl


@hookimpl
def mosaic_register_routes(api, web) -> None:
    from . import api as api_module
    from . import views

    api_module.register(api)
    views.register(web)
