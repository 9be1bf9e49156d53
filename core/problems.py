"""RFC 9457 problem details: the one shape of every REST error."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, json, request
from werkzeug.exceptions import HTTPException

PROBLEM_MIME = "application/problem+json"


class Problem(Exception):
    """Raise from an API view to answer with a problem+json response."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        errors: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.title = status, detail, title
        self.errors, self.extra = errors, extra


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: dict[str, Any] | None = None,
    **extra: Any,
) -> Response:
    from http import HTTPStatus

    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_MIME)


def wants_problem() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def register_error_handlers(app: Flask, html_error: Any) -> None:
    """Turn every error into problem+json under ``/api/`` and an HTML page elsewhere."""

    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        if wants_problem():
            return problem_response(
                exc.status, exc.detail, title=exc.title, errors=exc.errors, **exc.extra
            )
        return html_error(exc.status, exc.detail)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        if exc.code is None or exc.code < 400:
            return exc
        if wants_problem():
            response = problem_response(exc.code, exc.description or exc.name, title=exc.name)
            if exc.code == 405 and exc.valid_methods:
                response.headers["Allow"] = ", ".join(exc.valid_methods)
            return response
        return html_error(exc.code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if app.config.get("PROPAGATE_EXCEPTIONS"):
            raise exc
        if wants_problem():
            return problem_response(500, "An unexpected error occurred; it has been logged.")
        return html_error(500, "An unexpected error occurred; it has been logged.")
