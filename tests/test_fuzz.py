"""Property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis).

Every operation gets generated requests, valid and invalid: schema examples, boundary
values, then random ones. Every response must be free of server errors and match what the
schema documents (status code, content type, body, ``Allow`` on a 405). Requests go to a
seeded blog, with its slug and real ids in the path most of the time, so that they reach
the handlers and not only the 404 of an unknown tenant or id.
"""

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import Case, GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import unsupported_method
from schemathesis.specs.openapi.schemas import OpenApiSchema
from sqlalchemy.orm import object_session
from sqlmodel import Session
from starlette.types import Receive, Scope, Send

from blog.app import create_app
from blog.posts.models import PostStatus
from blog.settings import Settings
from blog.tenants.models import Tenant
from blog.testing.factories import (
    DEFAULT_PASSWORD,
    AuthSessionFactory,
    CommentFactory,
    MediaFactory,
    PostFactory,
    PostRevisionFactory,
    WebhookDeliveryFactory,
    WebhookEndpointFactory,
)
from blog.testing.plugin import TEST_SECRET_KEY
from blog.users.models import Role, User

ApiCase = Case[Any]  # of any operation

MAX_EXAMPLES = 25  # random cases per operation, after its examples and boundary values

# Checks that cannot apply to this API (every other built-in check runs):
UNFIT_CHECKS = [
    # Schema-valid input may still be refused with a 422: text that is only white space
    # once trimmed, passwords over bcrypt's 72 bytes, emails at reserved domains (.test),
    # a wrong current password. JSON Schema cannot say these.
    "positive_data_acceptance",
]


class ServedApp:
    """The ASGI app the schema sends to: bound to the schema at collection, it forwards
    each test's requests to the app of that test's ``app`` fixture (and database)."""

    def __init__(self) -> None:
        self.app: FastAPI | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return  # nothing to start: the fixture builds each app ready to serve
        assert self.app is not None, "the test must request the `served` fixture"
        await self.app(scope, receive, send)


served_app = ServedApp()


def load_schema(
    *,
    security_parameters: bool,
    path: str = "/openapi.json",
    served: ServedApp = served_app,
) -> OpenApiSchema:
    """The schema the app serves at ``path``, loaded at collection (one test per operation).

    It does not depend on the database, so a throwaway app serves it; requests then go
    to ``served``.
    """
    app = create_app(
        Settings(
            _env_file=None,
            environment="test",
            database_url="sqlite://",
            secret_key=TEST_SECRET_KEY,  # type: ignore[arg-type]
        )
    )
    schema = schemathesis.openapi.from_asgi(path, app)
    schema.app = served
    schema.config.generation.update(with_security_parameters=security_parameters)
    schema.config.checks.update(excluded_check_names=UNFIT_CHECKS)
    # A body over the size limit is refused before it is read: 413 is a rejection too.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    return schema


# A visitor: no Authorization header at all.
anonymous_api = load_schema(security_parameters=False)
# The owner: a generated Authorization header, replaced by the owner's token in most cases.
owner_api = load_schema(security_parameters=True)

fuzz_settings = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,  # the same cases on every run, in CI and locally
    database=None,  # nothing written to .hypothesis/
    deadline=None,
    suppress_health_check=[
        # On purpose: the cases of one operation share its app, database and seed.
        HealthCheck.function_scoped_fixture,
        # Large generated bodies (up to 100,000 characters) are expected here.
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@dataclass
class Seed:
    """The blog requests go to, its owner's token, and real values for path parameters."""

    tenant: str
    token: str
    owner_id: str
    member_id: str = ""
    post_id: str = ""
    slug: str = ""
    draft_id: str = ""
    comment_id: str = ""
    session_id: str = ""  # a login of the owner
    endpoint_id: str = ""  # a webhook endpoint of the blog
    delivery_id: str = ""  # a delivery to it
    revision_id: str = ""  # a revision of the published post
    media_id: str = ""  # a media of the blog (its row: no file behind it)

    def values(self, parameter: str) -> list[str]:
        return {
            "tenant": [self.tenant],
            "user_id": [self.owner_id, self.member_id],
            "post_id": [self.post_id, self.draft_id],
            "slug": [self.slug],
            "comment_id": [self.comment_id],
            "session_id": [self.session_id],
            "endpoint_id": [self.endpoint_id],
            "delivery_id": [self.delivery_id],
            "revision_id": [self.revision_id],
            "media_id": [self.media_id],
        }.get(parameter, [])

    def refill(self, user: Callable[..., User]) -> None:
        """A new member with a published post (tagged, commented on) and a draft."""
        member = user(role=Role.author)
        post = PostFactory(author=member, tags=["python", "sql"])
        draft = PostFactory(author=member, status=PostStatus.draft)
        comment = CommentFactory(post=post, author=member)
        self.revision_id = str(PostRevisionFactory(post=post).id)
        self.member_id = str(member.id)
        self.post_id, self.slug, self.draft_id = str(post.id), post.slug, str(draft.id)
        self.comment_id = str(comment.id)
        session = object_session(member)
        assert session is not None
        blog = session.get(Tenant, member.tenant_id)
        hook = WebhookDeliveryFactory(endpoint=WebhookEndpointFactory(tenant=blog))
        self.endpoint_id, self.delivery_id = str(hook.endpoint_id), hook.id
        self.media_id = str(MediaFactory(uploader=member).id)


@pytest.fixture
def served(app: FastAPI) -> Iterator[None]:
    served_app.app = app
    yield
    served_app.app = None


@pytest.fixture
def seed(
    db: Session,
    tenant: Tenant,
    user: Callable[..., User],
    auth_headers: Callable[[User], dict[str, str]],
) -> Seed:
    owner = user(role=Role.owner)
    token = auth_headers(owner)["Authorization"].removeprefix("Bearer ")
    seeded = Seed(
        tenant=tenant.slug,
        token=token,
        owner_id=str(owner.id),
        session_id=str(AuthSessionFactory(user=owner).id),
    )
    seeded.refill(user)
    return seeded


def mostly(real: list[str], generated: Any) -> Any:
    """A real value three times in four, else the generated one.

    The pick follows from the generated value, so it is as reproducible as the case.
    (``@schema.given`` would draw it, but Schemathesis allows it in random cases only.)
    """
    choices = [*real, *real, *real, generated]
    return choices[zlib.crc32(repr(generated).encode()) % len(choices)]


def is_positive(case: ApiCase, location: ParameterLocation) -> bool:
    """Whether ``case`` was generated to send valid values at ``location``.

    Only those are replaced: a negative case must keep the invalid value it was made for.
    """
    component = case.meta.components.get(location) if case.meta else None
    return component is not None and component.mode == GenerationMode.POSITIVE


def use_real_values(case: ApiCase, seed: Seed, *, token: bool) -> None:
    """Put the seed's slug and ids in the path and, with ``token``, the owner's token.

    The generated values stay among the choices, so unknown tenants and ids (and invalid
    tokens) are tried too.
    """
    if is_positive(case, ParameterLocation.PATH):
        case.path_parameters = {
            name: mostly(real, value) if (real := seed.values(name)) else value
            for name, value in case.path_parameters.items()
        }
    if token and "Authorization" in case.headers and is_positive(case, ParameterLocation.HEADER):
        case.headers["Authorization"] = mostly(
            [f"Bearer {seed.token}"], case.headers["Authorization"]
        )


def call_and_validate(case: ApiCase, seed: Seed, user: Callable[..., User]) -> None:
    excluded = []
    if case.method.upper() == "DELETE" and case.path.endswith("/users/me"):
        # DELETE /users/me reaches DELETE /users/{user_id} and answers 422 ("me" is not a
        # UUID) where OpenAPI, matching the literal path first, expects 405. An API decision
        # left open (add DELETE /users/me, or route only UUIDs to /users/{user_id}); drop
        # this exclusion with it.
        excluded.append(unsupported_method)
    response = case.call_and_validate(excluded_checks=excluded)
    if case.method.upper() == "DELETE" and response.status_code == 204:
        seed.refill(user)  # later cases find a post, a comment and a member again


@fuzz_settings
@anonymous_api.parametrize()
def test_anonymous_requests(
    case: ApiCase, served: None, seed: Seed, user: Callable[..., User]
) -> None:
    use_real_values(case, seed, token=False)
    call_and_validate(case, seed, user)


@fuzz_settings
@owner_api.parametrize()
def test_owner_requests(case: ApiCase, served: None, seed: Seed, user: Callable[..., User]) -> None:
    use_real_values(case, seed, token=True)
    call_and_validate(case, seed, user)


# What the fuzzing found, pinned as plain tests where it would not notice a regression:
# it hardly ever generates a NUL, and a schema that says less than the validators enforce
# fails no check that applies here.

NUL_INPUTS = [
    ("GET", "/api/v1/tenants/a%00b", {}),
    ("GET", "{tenant}/posts/by-slug/a%00b", {}),
    ("GET", "{tenant}/posts?q=a%00b", {}),
    ("GET", "{tenant}/posts?tag=a%00b", {}),
    ("GET", "{tenant}/posts?author=a%00b", {}),
    ("GET", "{tenant}/users?q=a%00b", {}),
    ("POST", "{tenant}/posts", {"json": {"title": "a\x00", "body": "b"}}),
    ("POST", "{tenant}/posts", {"json": {"title": "a", "body": "b", "tags": ["c\x00"]}}),
    ("PATCH", "{tenant}/users/me", {"json": {"bio": "\x00"}}),
    ("POST", "{tenant}/auth/token", {"data": {"username": "a", "password": "password\x00"}}),
    ("POST", "{tenant}/auth/refresh", {"json": {"refresh_token": "\x00"}}),
]


@pytest.mark.parametrize(("method", "path", "request_kwargs"), NUL_INPUTS)
def test_a_nul_character_in_any_input_is_422(
    client: TestClient, seed: Seed, method: str, path: str, request_kwargs: dict[str, Any]
) -> None:
    """PostgreSQL cannot store or compare text with a NUL: refused up front, on every backend."""
    url = path.format(tenant=f"/api/v1/tenants/{seed.tenant}")
    headers = {"Authorization": f"Bearer {seed.token}"}

    response = client.request(method, url, headers=headers, **request_kwargs)

    assert response.status_code == 422, response.text


def test_a_nul_character_in_a_login_name_is_a_failed_login(client: TestClient, seed: Seed) -> None:
    response = client.post(
        f"/api/v1/tenants/{seed.tenant}/auth/token",
        data={"username": "user\x00", "password": DEFAULT_PASSWORD},
    )

    assert response.status_code == 401


def test_the_schema_states_what_validation_enforces(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]

    # Patterns survive the trimming validators.
    assert "pattern" in schemas["TenantCreate"]["properties"]["slug"]
    assert "pattern" in schemas["UserSelfUpdate"]["properties"]["username"]
    assert "pattern" in schemas["UserSelfUpdate"]["properties"]["image"]["anyOf"][0]
    # Partial updates: fields may be omitted, never null.
    assert schemas["UserAdminUpdate"]["properties"]["role"] == {"$ref": "#/components/schemas/Role"}
    for field in ("title", "body", "description", "tags", "status"):
        assert "anyOf" not in schemas["PostUpdate"]["properties"][field]
        assert "default" not in schemas["PostUpdate"]["properties"][field]
