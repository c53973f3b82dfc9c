"""Native errors are RFC 9457 problem details; the RealWorld API keeps its own dialect."""

from collections.abc import Callable

from fastapi.testclient import TestClient

from blog.errors import UNCLASSED_PROBLEMS
from blog.problem_types import catalogue, error_classes
from blog.tenants.models import Tenant
from blog.users.models import Role, User
from tests.conduit import conduit_path, error_of
from tests.conftest import tenant_path
from tests.problems import PROBLEM_JSON, assert_problem

AuthHeaders = Callable[[User], dict[str, str]]


def test_unknown_blog_is_a_404_problem(client: TestClient) -> None:
    body = assert_problem(client.get("/api/v1/tenants/nope"), 404, "tenant_not_found")

    assert body["detail"] == "No such tenant."


def test_unknown_route_is_a_404_problem(client: TestClient) -> None:
    body = assert_problem(client.get("/no/such/route"), 404, "not_found")

    assert body["detail"] == "Not Found"


def test_missing_token_is_a_401_problem_with_its_challenge(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.get(tenant_path(tenant, "/users/me"))

    assert_problem(response, 401, "invalid_token")
    assert response.headers["www-authenticate"] == "Bearer"


def test_forbidden_is_a_403_problem(
    client: TestClient, tenant: Tenant, user: Callable[..., User], auth_headers: AuthHeaders
) -> None:
    response = client.get(tenant_path(tenant, "/users"), headers=auth_headers(user(Role.author)))

    assert_problem(response, 403, "role_forbidden")


def test_taken_email_is_a_409_problem(
    client: TestClient, tenant: Tenant, user: Callable[..., User]
) -> None:
    taken = user()

    response = client.post(
        tenant_path(tenant, "/auth/register"),
        json={"email": taken.email, "username": "newcomer", "password": "a-long-password"},
    )

    assert_problem(response, 409, "email_taken")


def test_invalid_body_is_a_422_problem_listing_each_field(client: TestClient) -> None:
    response = client.post("/api/v1/tenants", json={"slug": "x", "name": "X", "owner": {}})

    body = assert_problem(response, 422, "validation_error")
    assert body["detail"].startswith("Invalid ")
    assert {tuple(error["loc"]) for error in body["errors"]} >= {
        ("body", "slug"),
        ("body", "owner", "email"),
    }
    assert all(set(error) == {"loc", "msg", "type"} for error in body["errors"])


def test_wrong_method_is_a_405_problem_naming_the_allowed_ones(client: TestClient) -> None:
    response = client.delete("/health")

    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"


def test_every_code_has_one_status() -> None:
    """A problem type is its code: the same code never comes with two statuses."""
    statuses: dict[str, set[int]] = {}
    for error in error_classes():
        statuses.setdefault(error.code, set()).add(error.status_code)
    for code, (status, _meaning) in UNCLASSED_PROBLEMS.items():
        statuses.setdefault(code, set()).add(status)

    assert len(statuses) > 40
    assert {code: found for code, found in statuses.items() if len(found) > 1} == {}


def test_a_problem_type_is_documented_at_its_uri(client: TestClient, tenant: Tenant) -> None:
    problems = [
        client.get("/api/v1/tenants/nope"),
        client.post("/api/v1/tenants", json={}),
        client.delete("/health"),
        client.get(tenant_path(tenant, "/users/me")),
    ]

    for problem in problems:
        body = problem.json()
        page = client.get(body["type"])

        assert page.status_code == 200, body
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        assert f"<h1><code>{body['code']}</code></h1>" in page.text
        assert f"HTTP {body['status']} {body['title']}" in page.text


def test_every_problem_type_has_a_page_listed_in_the_index(client: TestClient) -> None:
    index = client.get("/problems")

    assert index.status_code == 200
    for code in catalogue():
        assert f'href="/problems/{code}"' in index.text
        assert client.get(f"/problems/{code}").status_code == 200, code
    assert "validation_error" in catalogue()
    assert "tenant_not_found" in catalogue()


def test_an_unknown_problem_type_is_a_404_problem(client: TestClient) -> None:
    assert_problem(client.get("/problems/no_such_thing"), 404, "problem_type_not_found")


def test_realworld_errors_keep_their_own_shape(client: TestClient, tenant: Tenant) -> None:
    missing = client.get(conduit_path(tenant, "/articles/no-such-article"))
    unauthenticated = client.get(conduit_path(tenant, "/user"))

    assert missing.headers["content-type"] == "application/json"
    assert error_of(missing, 404) == {"article": ["not found"]}
    assert unauthenticated.headers["content-type"] == "application/json"
    assert unauthenticated.headers["www-authenticate"] == "Token"
    assert "code" not in unauthenticated.json()


def test_openapi_documents_every_error_as_problem_json(client: TestClient) -> None:
    document = client.get("/openapi.json").json()

    error_responses = [
        (path, method, status, response)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status.startswith(("4", "5"))
    ]
    assert len(error_responses) > 100
    for path, method, status, response in error_responses:
        assert list(response["content"]) == [PROBLEM_JSON], (method, path, status)
        schema = response["content"][PROBLEM_JSON]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path, status)
    problem = document["components"]["schemas"]["ErrorResponse"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_the_realworld_document_is_unchanged(client: TestClient, tenant: Tenant) -> None:
    document = client.get(conduit_path(tenant, "/openapi.json")).json()

    media_types = {
        media_type
        for operations in document["paths"].values()
        for operation in operations.values()
        for status, response in operation["responses"].items()
        if status.startswith(("4", "5"))
        for media_type in response.get("content", {})
    }
    assert media_types == {"application/json"}


def test_error_answers_are_never_served_from_the_cache(client: TestClient, tenant: Tenant) -> None:
    path = tenant_path(tenant, "/posts/by-slug/no-such-post")

    answers = [client.get(path) for _ in range(3)]

    assert [answer.headers["x-cache"] for answer in answers] == ["miss"] * 3
    for answer in answers:
        assert_problem(answer, 404, "post_not_found")
        assert "etag" not in answer.headers
