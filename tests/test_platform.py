"""Health probes, the one error shape, CORS and the OpenAPI document."""

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from blog.app import create_app
from blog.database import create_db_engine
from blog.settings import Settings
from tests.problems import assert_problem, problem_body

UNREACHABLE = {
    "sqlite": "sqlite:////nonexistent-directory/blog.db",
    "postgres": "postgresql://postgres@127.0.0.1:1/nowhere",
}


@pytest.fixture
def dead_database_client(settings: Settings, database_backend: str) -> Iterator[TestClient]:
    url = UNREACHABLE[database_backend]
    app = create_app(
        settings.model_copy(update={"database_url": url}), engine=create_db_engine(url)
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_health(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_ready_when_database_answers(client: TestClient) -> None:
    response = client.get("/health/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_not_ready_when_database_is_gone(dead_database_client: TestClient) -> None:
    response = dead_database_client.get("/health/ready")

    body = assert_problem(response, 503, "database_unavailable")
    assert body["detail"] == "The database is not reachable."


def test_api_answers_503_json_when_database_is_gone(dead_database_client: TestClient) -> None:
    response = dead_database_client.get("/api/v1/tenants/acme")

    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert "Traceback" not in response.text
    assert "SELECT" not in response.text


def test_unknown_route_and_method_use_the_error_shape(client: TestClient) -> None:
    missing = client.get("/no/such/route")
    wrong_method = client.delete("/health")

    assert missing.status_code == 404
    assert problem_body(missing) == {
        "type": "/problems/not_found",
        "title": "Not Found",
        "status": 404,
        "detail": "Not Found",
        "code": "not_found",
    }
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "method_not_allowed"


def test_validation_errors_list_fields_without_echoing_input(client: TestClient) -> None:
    response = client.post(
        "/api/v1/tenants",
        json={"slug": "x", "name": "X", "owner": {"email": "bad", "password": "hunter2-secret"}},
    )

    body = response.json()
    assert response.status_code == 422
    assert body["code"] == "validation_error"
    assert {tuple(error["loc"]) for error in body["errors"]} >= {
        ("body", "slug"),
        ("body", "owner", "email"),
        ("body", "owner", "username"),
    }
    assert "hunter2-secret" not in response.text


def test_unexpected_errors_are_500_json_without_details(app: FastAPI) -> None:
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals: SELECT * FROM users")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert problem_body(response) == {
        "type": "/problems/internal_error",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "Internal server error.",
        "code": "internal_error",
    }


def test_malformed_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/api/v1/tenants", content=b"{not json", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_cors_allows_configured_origin_only(client: TestClient) -> None:
    def preflight(origin: str) -> dict[str, str]:
        return dict(
            client.options(
                "/api/v1/tenants/acme/users/me",
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "GET",
                    "Access-Control-Request-Headers": "authorization",
                },
            ).headers
        )

    allowed = preflight("http://localhost:5173")
    refused = preflight("https://evil.example")

    assert allowed["access-control-allow-origin"] == "http://localhost:5173"
    assert "authorization" in allowed["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in refused


def test_openapi_documents_errors_and_bearer_auth(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()

    assert "ErrorResponse" in schema["components"]["schemas"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    ref = response["content"]["application/problem+json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorResponse"), (method, path, status)


def test_no_schema_can_carry_a_password_hash(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]

    for name, schema in schemas.items():
        assert "hashed_password" not in schema.get("properties", {}), name


def test_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200


def test_database_errors_never_carry_bound_parameters(settings: Settings) -> None:
    """SQL errors are logged; their parameters could be password or token hashes."""
    engine = create_db_engine(settings.database_url)
    try:
        with engine.connect() as connection, pytest.raises(Exception) as caught:
            connection.execute(
                sa.text("SELECT no_such_column FROM tenants WHERE slug = :slug"),
                {"slug": "$2b$12$leaky-hash"},
            )
    finally:
        engine.dispose()

    assert "$2b$12$leaky-hash" not in str(caught.value)
