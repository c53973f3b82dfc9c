"""What every native error answer is: RFC 9457 problem details."""

from typing import Any

import httpx2 as httpx

PROBLEM_JSON = "application/problem+json"
# The titles a client sees: RFC 9110's status phrases.
TITLES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def assert_problem(
    response: httpx.Response, status: int, code: str, *, hardened: bool = True
) -> dict[str, Any]:
    """``response`` is the problem ``code`` with ``status``, in the problem+json shape, with
    the security headers of a JSON answer (``hardened``). Returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON, response.headers
    if hardened:
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert response.headers["x-content-type-options"] == "nosniff"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{code}", body
    assert body["title"] == TITLES[status], body
    assert body["status"] == status, body
    assert body["code"] == code, body
    assert isinstance(body["detail"], str), body
    assert body["detail"], body
    assert body["request_id"] == response.headers["x-request-id"], body
    assert set(body) <= {"type", "title", "status", "detail", "code", "errors", "request_id"}, body
    return body


def problem_body(response: httpx.Response) -> dict[str, Any]:
    """The problem's body without its ``request_id``, which must be the response's
    ``X-Request-ID`` (for comparing whole bodies)."""
    body: dict[str, Any] = response.json()
    assert body.pop("request_id") == response.headers["x-request-id"], body
    return body


def masked(response: httpx.Response) -> bytes:
    """The response's body with its own request id masked, for comparing two answers byte
    for byte: every answer has an id of its own, and a native error body repeats it."""
    request_id = response.headers["x-request-id"].encode()
    return response.content.replace(request_id, b"{request_id}")
