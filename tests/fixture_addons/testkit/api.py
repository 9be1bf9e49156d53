"""REST routes of the fixture addon: the generated ``gadgets`` resource and a custom route."""

from __future__ import annotations

from flask import Blueprint, jsonify

from core.access import login_required
from core.resources import Action, Child, Column, Resource, Section, api_doc, register_resource

from . import services
from .models import Gadget
from .schemas import GadgetSchema, PartSchema, PolishSchema

gadgets = Resource(
    name="gadgets",
    model=Gadget,
    schema=GadgetSchema,
    permission="testkit.gadget",
    description="Gadgets with their parts: the fixture resource core's tests drive.",
    search=["name", "notes", "parts.label"],
    filters={
        "price": "range",
        "archived": "eq",
        "created_at": "range",
        "currency": "eq",
        "name": "text",
        "notes": "text",
        "parts.label": "text",
    },
    sort=["name", "price", "created_at", "id"],
    default_sort="name",
    columns=[
        "name",
        Column("price", label="Price"),
        "currency",
        Column("created_at", label="Created"),
    ],
    form=[Section("Gadget", ["name", "price", "currency"]), Section("Notes", ["notes"])],
    children=[Child("parts", PartSchema, columns=["label"], label="Parts")],
    actions=[
        Action(
            "polish",
            handler=services.polish,
            schema=PolishSchema,
            description="Polish the gadget; its notes record it.",
        ),
        Action(
            "archive",
            handler=services.archive,
            permission="testkit.gadget.update",
            description="Hide the gadget from lists.",
            when=lambda g: not g.archived,
        ),
    ],
)


def register(bp: Blueprint) -> None:
    @bp.get("/ping")
    @login_required
    @api_doc(
        summary="Liveness of the testkit addon",
        response={"type": "object", "properties": {"pong": {"type": "boolean"}}},
    )
    def ping():
        """Answer pong to a logged-in caller."""
        return jsonify({"pong": True})

    register_resource(bp, None, gadgets)
