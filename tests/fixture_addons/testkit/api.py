"""REST routes of the fixture addon (resources are declared here once core supports them)."""

from __future__ import annotations

from flask import Blueprint, jsonify


def register(bp: Blueprint) -> None:
    @bp.get("/ping")
    def ping():
        return jsonify({"pong": True})
