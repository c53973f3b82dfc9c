"""The ceiling: what the server stack alone costs, with no app work.

A bare FastAPI app whose routes return, as raw bytes, the very JSON bodies that the
measured endpoints of the real server returned (captured by the run), with no database,
no middleware, no validation. Served by uvicorn with the same settings as ``blog serve``
(uvloop, httptools, no server header, one worker, the same log level), so the only
difference with the measured server is the application's own work.

    python -m bench.ceiling --spec routes.json --port 8100

The spec file is a JSON list of ``{"method", "path", "status", "body_b64"}``; ``path`` is
a route pattern such as ``/api/v1/tenants/{tenant}/posts/by-slug/{slug}``, so requests
for any slug hit the same route and get the same body.
"""

import argparse
import base64
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Response

from bench.servers import serve_like_blog

SPEC_VARIABLE = "BENCH_CEILING_SPEC"


def _endpoint(body: bytes, status: int) -> Callable[[], Awaitable[Response]]:
    # async and parameterless: no thread pool hop and no validation, the cheapest route.
    async def endpoint() -> Response:
        return Response(content=body, status_code=status, media_type="application/json")

    return endpoint


def create_app() -> FastAPI:
    """The ceiling app for the spec named by ``$BENCH_CEILING_SPEC``."""
    routes = json.loads(Path(os.environ[SPEC_VARIABLE]).read_text())
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    for route in routes:
        app.add_api_route(
            route["path"],
            _endpoint(base64.b64decode(route["body_b64"]), int(route["status"])),
            methods=[route["method"]],
        )
    app.add_api_route("/health/ready", _endpoint(b'{"status":"ok"}', 200), methods=["GET"])
    return app


def main() -> None:
    """Serve the ceiling app exactly as ``blog serve`` serves the real one."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    os.environ[SPEC_VARIABLE] = str(args.spec.resolve())
    serve_like_blog(
        "bench.ceiling:create_app", host=args.host, port=args.port, log_level=args.log_level
    )


if __name__ == "__main__":
    main()
