"""Fuzzing the RealWorld API from its own OpenAPI document (schemathesis), as the native
API is in ``test_fuzz.py``: no server error, and every response as documented."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.schemas import OpenApiSchema
from sqlmodel import Session

from blog.testing.factories import CommentFactory, PostFactory, TenantFactory
from blog.users.models import Role, User
from tests import test_fuzz as fuzz
from tests.test_fuzz import ApiCase, ServedApp, fuzz_settings, is_positive, mostly

# The document names its blog in its server URL; the fuzzed blog has this slug.
BLOG = "fuzzed"

served_app = ServedApp()


def load_schema(*, security_parameters: bool) -> OpenApiSchema:
    return fuzz.load_schema(
        security_parameters=security_parameters,
        path=f"/conduit/{BLOG}/api/openapi.json",
        served=served_app,
    )


anonymous_api = load_schema(security_parameters=False)
member_api = load_schema(security_parameters=True)


@dataclass
class Seed:
    """The fuzzed blog's owner token, and real values for the path parameters."""

    token: str
    username: str = ""
    slug: str = ""
    comment: int = 0

    def values(self, parameter: str) -> list[Any]:
        real: dict[str, list[Any]] = {
            "username": [self.username],
            "slug": [self.slug],
            "id": [self.comment],
        }
        return real.get(parameter, [])

    def refill(self, user: Callable[..., User]) -> None:
        """A new member with a tagged article that has a comment."""
        member = user(role=Role.author)
        post = PostFactory(author=member, tags=["python", "sql"])
        self.username, self.slug = member.username, post.slug
        self.comment = CommentFactory(post=post, author=member).number


@pytest.fixture
def served(app: FastAPI) -> Iterator[None]:
    served_app.app = app
    yield
    served_app.app = None


@pytest.fixture
def seed(
    db: Session, user: Callable[..., User], auth_headers: Callable[[User], dict[str, str]]
) -> Seed:
    blog = TenantFactory(slug=BLOG)
    owner = user(role=Role.owner, tenant=blog)
    seeded = Seed(token=auth_headers(owner)["Authorization"].removeprefix("Bearer "))
    seeded.refill(lambda **fields: user(tenant=blog, **fields))
    return seeded


def call(case: ApiCase, seed: Seed, user: Callable[..., User], *, token: bool) -> None:
    if is_positive(case, ParameterLocation.PATH):
        case.path_parameters = {
            name: mostly(real, value) if (real := seed.values(name)) else value
            for name, value in case.path_parameters.items()
        }
    if token and "Authorization" in case.headers and is_positive(case, ParameterLocation.HEADER):
        case.headers["Authorization"] = mostly(
            [f"Token {seed.token}"], case.headers["Authorization"]
        )
    response = case.call_and_validate()
    if case.method.upper() == "DELETE" and response.status_code == 204:
        seed.refill(user)


@fuzz_settings
@anonymous_api.parametrize()
def test_anonymous_requests(
    case: ApiCase, served: None, seed: Seed, user: Callable[..., User]
) -> None:
    call(case, seed, user, token=False)


@fuzz_settings
@member_api.parametrize()
def test_member_requests(
    case: ApiCase, served: None, seed: Seed, user: Callable[..., User]
) -> None:
    call(case, seed, user, token=True)
