"""OpenTelemetry traces: off unless the OTEL_* variables ask; on, one request is one
trace whose SQL spans hang under the request's server span."""

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy.engine import Engine

from blog.app import create_app
from blog.database import create_db_engine, utcnow
from blog.jobs.runner import run_due
from blog.observability import tracing
from blog.settings import Settings
from blog.tenants.models import Tenant
from blog.users.models import User
from tests.blog_serve import Server
from tests.conftest import tenant_path
from tests.factories import PostFactory

Spans = Callable[[], list[ReadableSpan]]
TracedClient = tuple[TestClient, InMemorySpanExporter]


@pytest.fixture
def traced(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, InMemorySpanExporter]]:
    """A client of an app built with tracing switched on by the environment, its spans
    kept in memory (the process's real provider would export them)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setattr(tracing, "tracer_provider", lambda: provider)
    engine = create_db_engine(settings.database_url)
    app = create_app(settings, engine=engine)
    try:
        with TestClient(app) as client:
            exporter.clear()  # the startup's own statements
            yield client, exporter
    finally:
        engine.dispose()
        provider.shutdown()


def bearer(client: TestClient, user: User) -> dict[str, str]:
    token = client.app.state.auth.tokens.issue(  # type: ignore[attr-defined]
        user_id=user.id, tenant_id=user.tenant_id, generation=user.token_generation
    )
    return {"Authorization": f"Bearer {token}"}


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    chain = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


def attribute_values(spans: list[ReadableSpan]) -> str:
    return json.dumps([dict(span.attributes or {}) for span in spans], default=str)


def test_one_request_is_one_trace_with_its_sql_spans(
    traced: TracedClient, tenant: Tenant, user: Callable[..., User]
) -> None:
    client, exporter = traced
    author = user()
    PostFactory.create(author=author)
    headers = bearer(client, author)

    response = client.get(tenant_path(tenant, "/posts"), headers=headers)

    assert response.status_code == 200, response.text
    spans = list(exporter.get_finished_spans())
    (server,) = [span for span in spans if span.kind is SpanKind.SERVER]
    assert server.name == "GET /api/v1/tenants/{tenant}/posts"
    assert server.attributes is not None
    assert server.attributes["http.response.status_code"] == 200
    assert server.parent is None
    assert {span.context.trace_id for span in spans} == {server.context.trace_id}
    sql = [span for span in spans if span.attributes and "db.statement" in span.attributes]
    statements = " ".join(str(span.attributes["db.statement"]) for span in sql)  # type: ignore[index]
    assert "FROM tenants" in statements
    assert "FROM posts" in statements
    by_id = {span.context.span_id: span for span in spans}
    assert all(server in ancestors(span, by_id) for span in sql)
    assert all(span.kind is SpanKind.CLIENT for span in sql)
    # No secret rides along: not the token, and no statement's parameters (a tenant slug
    # is one; statements carry placeholders).
    recorded = attribute_values(spans)
    assert headers["Authorization"].removeprefix("Bearer ") not in recorded
    assert tenant.slug not in statements


def test_a_write_is_traced_under_its_request(
    traced: TracedClient, tenant: Tenant, user: Callable[..., User]
) -> None:
    client, exporter = traced
    author = user()

    response = client.post(
        tenant_path(tenant, "/posts"),
        json={"title": "Traced", "body": "The body, with a word of its own: zymurgy."},
        headers=bearer(client, author),
    )

    assert response.status_code == 201, response.text
    spans = list(exporter.get_finished_spans())
    (server,) = [span for span in spans if span.kind is SpanKind.SERVER]
    inserts = [
        span
        for span in spans
        if str((span.attributes or {}).get("db.statement", "")).startswith("INSERT INTO posts")
    ]
    assert len(inserts) == 1
    by_id = {span.context.span_id: span for span in spans}
    assert server in ancestors(inserts[0], by_id)
    assert "zymurgy" not in attribute_values(spans)  # the body is a parameter, not recorded


def test_a_job_is_one_trace_with_its_sql_spans(
    traced: TracedClient, settings: Settings, tenant: Tenant, user: Callable[..., User]
) -> None:
    client, exporter = traced
    at = utcnow() + timedelta(minutes=10)
    response = client.post(
        tenant_path(tenant, "/posts"),
        json={
            "title": "Later",
            "body": "Soon.",
            "status": "scheduled",
            "published_at": at.isoformat(),
        },
        headers=bearer(client, user()),
    )
    assert response.status_code == 201, response.text
    exporter.clear()

    engine = client.app.state.engine  # type: ignore[attr-defined]
    assert run_due(engine, settings, now=at + timedelta(seconds=1)) == 1

    spans = list(exporter.get_finished_spans())
    (job,) = [span for span in spans if span.name == "job"]
    assert job.parent is None
    job_trace = [span for span in spans if span.context.trace_id == job.context.trace_id]
    statements = " ".join(
        str((span.attributes or {}).get("db.statement", "")) for span in job_trace
    )
    assert "UPDATE posts" in statements  # the publishing, under the job


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "blog"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
                "OTEL_TRACES_EXPORTER": "none",
            },
            False,
        ),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "TRUE"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "false"}, True),
    ],
)
def test_the_otel_variables_switch_tracing(environ: dict[str, str], expected: bool) -> None:
    assert tracing.enabled(environ) is expected


# What a server process imports and wraps, told by a fresh interpreter. (redis imports a
# little of the SDK's metrics on its own when the SDK is installed: not ours to judge.)
PROBE = """
import json, sys
from fastapi.testclient import TestClient
from blog.app import create_app
from blog.settings import Settings

app = create_app(Settings(_env_file=None, database_url=sys.argv[1], jobs_url="memory://"))
with TestClient(app) as client:
    status = client.get("/health/ready").status_code
print(json.dumps({
    "status": status,
    "tracing": sorted(m for m in sys.modules if m.startswith((
        "opentelemetry.sdk.trace", "opentelemetry.instrumentation", "opentelemetry.exporter"
    ))),
    "fastapi_tracing": app._telemetry["tracing"],
}))
"""


@pytest.mark.parametrize(
    "otel",
    [
        {},
        {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"},
        {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"},
    ],
    ids=["no variables", "sdk disabled", "exporter none"],
)
def test_off_nothing_is_imported_or_traced(otel: dict[str, str], tmp_path: Path) -> None:
    environ = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    url = f"sqlite:///{tmp_path / 'blog.db'}"

    probe = subprocess.run(  # noqa: S603 - this interpreter, a script of ours
        [sys.executable, "-c", PROBE, url],
        env={**environ, **otel},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout.splitlines()[-1]) == {
        "status": 200,
        "tracing": [],
        "fastapi_tracing": False,
    }


def test_an_unknown_exporter_is_named() -> None:
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER=zipkin"):
        tracing._exporters("zipkin")


class Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP collector that keeps what it is sent."""

    received: list[tuple[str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def test_blog_serve_exports_to_the_otlp_endpoint(
    settings: Settings, engine: Engine, tenant: Tenant, tmp_path: Path
) -> None:
    """The deployment's way: OTEL_EXPORTER_OTLP_ENDPOINT set, nothing else."""
    received: list[tuple[str, bytes]] = []
    handler = type("Handler", (Collector,), {"received": received})
    collector = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    try:
        server = Server(
            settings,
            tmp_path / "serve.log",
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{collector.server_port}",
            OTEL_SERVICE_NAME="blog-test",
        )
        assert httpx.get(f"{server.base}{tenant_path(tenant, '/posts')}").status_code == 200
        server.terminate()  # a graceful stop sends what is batched
        assert server.process.wait(timeout=30) == 0, server.log.read_text()
    finally:
        collector.shutdown()

    spans = []
    for path, body in received:
        assert path == "/v1/traces"
        export = ExportTraceServiceRequest.FromString(body)
        for resource_spans in export.resource_spans:
            service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            assert service["service.name"] == "blog-test"
            spans += [span for scope in resource_spans.scope_spans for span in scope.spans]
    (request,) = [span for span in spans if span.name == "GET /api/v1/tenants/{tenant}/posts"]
    in_request = [span for span in spans if span.trace_id == request.trace_id]
    assert any(span.name.startswith("SELECT") for span in in_request)
