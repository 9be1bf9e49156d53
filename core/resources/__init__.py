"""Resources: declare a business resource once, get REST, OpenAPI, pages and CSV from it.

In an addon::

    # api.py / views.py, or directly in hooks.py
    from core.resources import Action, Child, Column, FormField, Resource, Section, register_resource

    gadgets = Resource(name="gadgets", model=Gadget, schema=GadgetSchema, permission="testkit.gadget", ...)

    @hookimpl
    def mosaic_register_routes(api, web):
        register_resource(api, web, gadgets)

Custom endpoints sit beside the generated ones on the same blueprints; protect them with
``core.access.permission_required`` and describe them for OpenAPI with :func:`api_doc`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask

from core.resources.declaration import (
    Action,
    BusinessError,
    Child,
    Column,
    Filter,
    FormField,
    Resource,
    ResourceError,
    SearchTerm,
    Section,
)
from core.resources.openapi import api_doc
from core.resources.schemas import (
    ChildSchema,
    DecimalString,
    MoneyField,
    QuantityField,
    RecordSchema,
)

__all__ = [
    "Action",
    "BoundResource",
    "BusinessError",
    "Child",
    "ChildSchema",
    "Column",
    "DecimalString",
    "Filter",
    "FormField",
    "MoneyField",
    "QuantityField",
    "RecordSchema",
    "Resource",
    "ResourceError",
    "SearchTerm",
    "Section",
    "api_doc",
    "find_resource",
    "init_resources",
    "register_resource",
    "resources_of",
]

EXTENSION = "mosaic_resources"


@dataclass(frozen=True)
class BoundResource:
    """A resource as mounted in one app: its addon and the blueprints that serve it."""

    addon: str
    resource: Resource
    api_blueprint: str | None
    web_blueprint: str | None

    @property
    def key(self) -> str:
        return f"{self.addon}.{self.resource.name}"


def register_resource(api: Blueprint | None, web: Blueprint | None, resource: Resource) -> None:
    """Mount the generated endpoints on ``api`` and the generated pages on ``web``.

    Either blueprint may be ``None`` (an API-only resource, say). Call it from the addon's
    ``mosaic_register_routes(api, web)`` hook, once per resource.
    """
    from core.resources.pages import register_pages
    from core.resources.rest import register_api

    if api is not None:
        register_api(api, resource)
    if web is not None:
        register_pages(web, resource)
    owner = web if web is not None else api
    if owner is None:
        raise ResourceError(f"resource '{resource.name}': give an api or a web blueprint")
    addon = web.name if web is not None else api.name.removesuffix("_api")  # type: ignore[union-attr]
    bound = BoundResource(addon, resource, api.name if api else None, web.name if web else None)

    def remember(state: Any) -> None:
        found = state.app.extensions.setdefault(EXTENSION, {})
        known = found.get(bound.key)
        if known is None:
            found[bound.key] = bound
            return
        # api.py and views.py may register the same resource separately: merge the halves.
        if (
            known.resource is not resource
            or (bound.api_blueprint and known.api_blueprint)
            or (bound.web_blueprint and known.web_blueprint)
        ):
            raise ResourceError(f"resource '{bound.key}' is registered twice")
        found[bound.key] = BoundResource(
            addon,
            resource,
            known.api_blueprint or bound.api_blueprint,
            known.web_blueprint or bound.web_blueprint,
        )

    owner.record_once(remember)


def resources_of(app: Flask) -> dict[str, BoundResource]:
    """Every resource mounted in ``app``, by ``"<addon>.<resource>"``."""
    return dict(app.extensions.get(EXTENSION, {}))


def find_resource(app: Flask, key: str) -> BoundResource:
    """The resource named ``"<addon>.<resource>"``; ``LookupError`` lists the known ones."""
    found = resources_of(app)
    if key not in found:
        known = ", ".join(sorted(found)) or "none (is the addon installed?)"
        raise LookupError(f"no resource '{key}'; known resources: {known}")
    return found[key]


def init_resources(app: Flask) -> None:
    """Core routes of this package: the OpenAPI document and the API reference page."""
    from core.resources.openapi import init_openapi

    app.extensions.setdefault(EXTENSION, {})
    init_openapi(app)
