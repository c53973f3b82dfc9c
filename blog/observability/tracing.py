"""OpenTelemetry traces of requests and their SQL, when the standard ``OTEL_*`` variables
ask for them.

Off unless ``OTEL_TRACES_EXPORTER`` names an exporter (``otlp`` or ``console``; ``none``
is off) or an OTLP endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, exporter ``otlp``); ``OTEL_SDK_DISABLED=true``
turns it off whatever else is set. Off, the OpenTelemetry SDK is never imported and
nothing is wrapped. On, FastAPI's own telemetry makes each request's server span (and its
dependency and endpoint spans) and every engine's statements are its children. Statements
are recorded without their parameters; no request header is.

The rest is the SDK's own reading of the environment: ``OTEL_SERVICE_NAME`` (here
"blog" by default), ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``, the OTLP
exporter's ``OTEL_EXPORTER_OTLP_*`` and the batch processor's ``OTEL_BSP_*``.
"""

import os
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi.telemetry import TelemetryConfig
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer
    from sqlalchemy.engine import Engine

DEFAULT_SERVICE_NAME = "blog"
EXPORTERS = ("otlp", "console")
# FastAPI's telemetry, all of it off: no per-request look at the global providers either.
TELEMETRY_OFF: "TelemetryConfig" = {"tracing": False, "metrics": False, "logs": False}


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment asks for traces."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


@cache
def tracer_provider() -> "TracerProvider":
    """The process's tracer provider, made once from the environment (and made global,
    so that libraries tracing on their own join the same traces)."""
    from opentelemetry import trace

    try:
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as missing:
        raise RuntimeError(
            "the OTEL_* variables ask for traces, but OpenTelemetry's SDK is not installed: "
            "pip install 'blog[tracing]'"
        ) from missing

    name = os.environ.get("OTEL_SERVICE_NAME", "").strip() or DEFAULT_SERVICE_NAME
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    for exporter in _exporters(os.environ.get("OTEL_TRACES_EXPORTER", "otlp")):
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


def _exporters(names: str) -> list["SpanExporter"]:
    exporters: list[SpanExporter] = []
    for name in (part.strip().lower() for part in names.split(",")):
        if name == "otlp":
            protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
                "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
            )
            if protocol != "http/protobuf":
                raise ValueError(
                    f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: only http/protobuf is installed"
                )
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporters.append(OTLPSpanExporter())
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            exporters.append(ConsoleSpanExporter())
        elif name not in ("", "none"):
            raise ValueError(
                f"OTEL_TRACES_EXPORTER={names}: {name!r} is not one of {', '.join(EXPORTERS)}, none"
            )
    return exporters


def telemetry_config() -> "TelemetryConfig":
    """``FastAPI(telemetry=...)``: request spans from our provider when tracing is on (no
    OpenTelemetry metrics or logs: those have their own places); all off otherwise."""
    if not enabled():
        return TELEMETRY_OFF
    return {"tracer_provider": tracer_provider(), "metrics": False, "logs": False}


def tracer(name: str) -> "Tracer | None":
    """A tracer for work no instrumentation sees (None when tracing is off): hold it and
    open spans with :func:`span`."""
    return tracer_provider().get_tracer(name) if enabled() else None


def span(
    tracer: "Tracer | None", name: str, attributes: dict[str, str], *, client: bool = False
) -> AbstractContextManager[Any]:
    """A span of ``tracer`` around a block, the current one inside it; nothing when
    tracing is off. ``client``: a call to another service (the database)."""
    if tracer is None:
        return nullcontext()
    from opentelemetry.trace import SpanKind

    kind = SpanKind.CLIENT if client else SpanKind.INTERNAL
    return tracer.start_as_current_span(name, kind=kind, attributes=attributes)


def traced(engine: "Engine") -> "Engine":
    """``engine``, its statements traced (as children of the current span) when tracing
    is on. The engine itself, not SQLAlchemy globally: engines made elsewhere stay as
    they are."""
    if not enabled():
        return engine
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.instrumentation.sqlalchemy.version import __version__
    from opentelemetry.metrics import NoOpMeter

    tracer = tracer_provider().get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__)
    # The pool's connection counts are metrics, which are Prometheus's business here.
    usage = NoOpMeter("blog").create_up_down_counter("db.client.connections.usage")
    EngineTracer(tracer, engine, usage)  # type: ignore[no-untyped-call]
    return engine
