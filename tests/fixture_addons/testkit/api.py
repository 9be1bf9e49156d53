"""REST routes of the fixture addon (resources are declared here once core supports them)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from core.access import login_required


def register(bp: Blueprint) -> None:
    @bp.get("/ping")
    @login_required
    def ping():
        return jsonify({"pong": True})
