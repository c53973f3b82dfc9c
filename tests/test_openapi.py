"""The native API's OpenAPI document reads well to client generators: every operation id
is `{tag}-{action}` and unique, every schema name a plain PascalCase word, and
`blog openapi` prints what `/openapi.json` serves (the TypeScript client is made from it)."""

import json
import re
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from blog import cli
from blog.openapi import operation_id

OPERATION_ID = re.compile(r"^[a-z]+-[a-z][A-Za-z0-9]*$")
SCHEMA_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        operation
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_operation_id_is_its_tag_and_a_camel_case_action(
    document: dict[str, Any],
) -> None:
    for operation in operations(document):
        assert OPERATION_ID.match(operation["operationId"]), operation["operationId"]
        assert operation["operationId"].split("-")[0] == operation["tags"][0]


def test_operation_ids_are_unique(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for operation in operations(document)]

    assert len(ids) > 50
    assert sorted(set(ids)) == sorted(ids)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("get", "/api/v1/tenants/{tenant}/posts/by-slug/{slug}", "posts-readBySlug"),
        ("get", "/api/v1/tenants/{tenant}/posts", "posts-list"),
        ("get", "/api/v1/tenants/{tenant}/users/{user_id}/with-posts", "posts-readUserWithPosts"),
        ("post", "/api/v1/tenants/{tenant}/auth/token", "auth-login"),
        ("get", "/api/v1/tenants/{tenant}/users/me", "users-readMe"),
        ("delete", "/api/v1/tenants/{tenant}/keys/{key_id}", "keys-revoke"),
        ("get", "/blogs/{tenant}/rss.xml", "feeds-rss"),
        ("get", "/health", "health-live"),
    ],
)
def test_operation_ids_drop_only_the_tags_noun_after_the_verb(
    document: dict[str, Any], method: str, path: str, expected: str
) -> None:
    assert document["paths"][path][method]["operationId"] == expected


def test_every_schema_name_is_one_pascal_case_word(document: dict[str, Any]) -> None:
    """No `Page_PostSummary_`, `Body_login_…`, `…-Input`/`…-Output` twins or module paths."""
    names = list(document["components"]["schemas"])

    assert [name for name in names if not SCHEMA_NAME.match(name)] == []
    assert {"PostPage", "FeedPage", "UserPage", "LoginForm", "ErrorResponse"} <= set(names)


def test_the_login_form_is_documented_as_a_named_form(document: dict[str, Any]) -> None:
    body = document["paths"]["/api/v1/tenants/{tenant}/auth/token"]["post"]["requestBody"]

    assert body["content"] == {
        "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/LoginForm"}}
    }
    assert document["components"]["schemas"]["LoginForm"]["required"] == [
        "username",
        "password",
    ]


def test_blog_openapi_prints_the_served_document(document: dict[str, Any]) -> None:
    result = CliRunner().invoke(cli.app, ["openapi"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == document


def test_a_route_without_a_tag_is_refused_when_it_is_added() -> None:
    router = APIRouter(generate_unique_id_function=operation_id)

    def untagged() -> None: ...

    with pytest.raises(ValueError, match="/untagged has no tag"):
        router.add_api_route("/untagged", untagged)
