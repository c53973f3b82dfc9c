"""An attack suite that walks every route of the API, read from the app's own schema.

How it is built
  * ``OPERATIONS`` is collected at import time from the app's OpenAPI schema, plus the
    routes the schema leaves out (``/docs``, ``/openapi.json``): a new route is attacked
    without anyone remembering to add it here.
  * ``ROUTE_POLICY`` says who may call each route; ``BODIES`` gives each route that takes
    a body a valid one. ``test_every_route_has_a_policy`` and its neighbours fail when the
    app has a route these tables do not know (or they name one it no longer has), so
    whoever adds a route must classify it.
  * The ``world`` fixture builds two blogs, A and B (the ``tenant`` and ``other_tenant``
    fixtures), each with one member per role, a published post with a tag and a comment,
    and a draft with a comment. :class:`Objects` fills any path template with one blog's
    real ids (or unknown ones); ``World.call`` sends any operation.

What is attacked (each test is parametrized over the operations it applies to)
  0. Baseline: each route works for its intended caller, so the refusals below mean
     something.
  1. BOLA: A's token under B's path (401); A's path with B's object ids (404, the very
     bytes an unknown id gets); A's refresh token under B's path (does nothing).
  2. BFLA: every member of the blog against every role- or ownership-gated route (403
     for those not allowed, 2xx for the others); a draft is a 404 to whoever may not see
     it, and never shows up in any public read.
  3. Broken authentication: missing, malformed, expired, wrongly typed, foreign,
     unsigned, wrongly signed, tampered and deactivated-account tokens: 401 with
     ``WWW-Authenticate: Bearer``, on public routes that read a token too.
  4. Mass assignment: ``tenant_id``, ``author_id``, ``role``, ``id``,
     ``hashed_password`` and ``is_active`` smuggled into every JSON body (nested
     objects too): 422.
  5. Every response of every test here is scanned (:class:`ResponseScan`): no bcrypt
     hash, no refresh token except one issued by that very response, no API key except
     in the answer making it, and nothing naming blog B under blog A's path (nor A under
     B's).
  6. API keys: A's keys under B's path (401, on every route); a content key never sees a
     draft and never writes; an admin key is refused (403) on every route outside its
     scopes, and works on the routes its scope names.

Every attack that must fail also checks that no row of the database changed.
"""

import copy
import dataclasses
import io
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Final, Literal

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session

from blog.app import create_app
from blog.auth.models import LinkPurpose
from blog.conduit import app as conduit
from blog.database import utcnow
from blog.keys.models import KeyKind, Scope
from blog.models import metadata
from blog.posts.models import PostStatus
from blog.settings import Settings
from blog.tenants.models import Tenant
from blog.users.models import Role, User
from tests.factories import (
    DEFAULT_PASSWORD,
    AccountTokenFactory,
    ApiKeyFactory,
    AuthSessionFactory,
    CommentFactory,
    MediaFactory,
    PostFactory,
    PostRevisionFactory,
    UserFactory,
    WebhookDeliveryFactory,
    WebhookEndpointFactory,
    one_commit,
    plain_key,
)
from tests.problems import masked
from tests.test_auth import b64url, flip_signature_character, sign

AuthHeaders = Callable[[User], dict[str, str]]
Headers = dict[str, str]
Body = dict[str, Any]
Snapshot = dict[str, list[str]]
# Whether a route reads an access token; "optional": a token, if sent, must be valid.
TokenUse = Literal["ignored", "optional", "required"]

TENANT_PREFIX: Final = "/api/v1/tenants/{tenant}"
# A blog's public documents (feeds, sitemaps) live under a path of their own.
DOCUMENT_PREFIX: Final = "/blogs/{tenant}"
TENANT_PREFIXES: Final = (TENANT_PREFIX, DOCUMENT_PREFIX)
JSON: Final = "application/json"
FORM: Final = "application/x-www-form-urlencoded"
MULTIPART: Final = "multipart/form-data"
PROBLEM: Final = "application/problem+json"
MEDIA_PATH: Final = "/media"  # BLOG_MEDIA_URL's default: the app serves uploads there
NEW_PASSWORD: Final = "a-brand-new-password"
PATH_PARAMETER = re.compile(r"{(\w+)}")
WEBHOOK_SECRET = re.compile(r"whsec_[A-Za-z0-9+/]{32,}")
API_KEY = re.compile(r"blog_[ac]k_[A-Za-z0-9_-]{12}")  # a key, not its mention in the docs
# Rate-limit counters record refused attempts too, by design: not evidence of a change.
TABLES_NOT_SNAPSHOTTED: Final = frozenset({"rate_limit_hits"})


# --- who may call what --------------------------------------------------------------------

# Everyone the world makes in each blog, by label. `author` wrote the post and the draft;
# `rival` is an author who owns nothing; `commenter` wrote the comment on the post.
MEMBERS: Final = {
    "owner": Role.owner,
    "admin": Role.admin,
    "editor": Role.editor,
    "author": Role.author,
    "rival": Role.author,
    "reader": Role.reader,
    "commenter": Role.reader,
}
STAFF: Final = ("editor", "admin", "owner")
OK: Final = "2xx"


@dataclass(frozen=True)
class Case:
    """BFLA: ``actor`` gets ``expect`` (a status, or any 2xx).

    ``actor`` is a label of MEMBERS or ``"self"``: the user named by ``{user_id}``, a fresh
    account of role ``target``. ``body`` replaces the route's valid body from BODIES.
    """

    actor: str
    expect: int | Literal["2xx"]
    target: Role = Role.author
    body: dict[str, Any] | None = None


def allowed(*actors: str) -> tuple[Case, ...]:
    return tuple(Case(actor, OK) for actor in actors)


def denied(*actors: str) -> tuple[Case, ...]:
    return tuple(Case(actor, 403) for actor in actors)


@dataclass(frozen=True)
class Policy:
    """Who may call a route.

    ``token``: whether the route reads an access token (it must agree with the schema).
    ``caller``: the member the baseline calls as (None: no token). ``cases``: what each
    member of the same blog gets (BFLA).
    """

    name: str
    token: TokenUse
    caller: str | None = None
    tenant_scoped: bool = True
    cases: tuple[Case, ...] = ()


PLATFORM = Policy("anyone, outside any blog", "ignored", tenant_scoped=False)
# GET /metrics: the operator's scraper, from an allowed address (loopback by default); to
# anyone else there is no such path (tests/test_metrics.py).
OPERATOR = Policy("the metrics scraper, from an allowed address", "ignored", tenant_scoped=False)
ANYONE = Policy("anyone; reads no token", "ignored")
REFRESH_HOLDER = Policy("the holder of a refresh token (in the body)", "ignored")
PUBLIC = Policy("anyone; a token may reveal drafts", "optional")
# Feeds and sitemaps: XML documents of what the public sees, the same for every caller.
DOCUMENT = Policy("anyone; a public document (feed, sitemap), reads no token", "ignored")
MEMBER = Policy("any member", "required", caller="reader", cases=allowed(*MEMBERS))
AUTHOR = Policy(
    "author and above",
    "required",
    caller="author",
    cases=denied("reader") + allowed("author", *STAFF),
)
ADMIN = Policy(
    "admin and above",
    "required",
    caller="admin",
    cases=denied("reader", "author", "editor") + allowed("admin", "owner"),
)
ACCOUNT_ADMIN = Policy(
    "admin and above; owners only by owners",
    "required",
    caller="admin",
    cases=(
        *ADMIN.cases,
        Case("self", 403),
        Case("self", 403, body={"role": "owner"}),
        Case("admin", 403, target=Role.owner),
        Case("admin", 403, body={"role": "owner"}),
        Case("owner", OK, target=Role.owner),
        Case("owner", OK, body={"role": "owner"}),
    ),
)
ACCOUNT_SELF_OR_ADMIN = Policy(
    "the user, or admin and above; owners only by owners",
    "required",
    caller="admin",
    cases=(
        *denied("reader", "author", "editor"),
        *allowed("self", "admin", "owner"),
        Case("admin", 403, target=Role.owner),
        Case("owner", OK, target=Role.owner),
    ),
)
UNLOCKER = Policy(
    "admin and above; owners only by owners",
    "required",
    caller="admin",
    cases=(
        *ADMIN.cases,
        Case("admin", 403, target=Role.owner),
        Case("owner", OK, target=Role.owner),
    ),
)
# The world's reader has not proven their address yet; everyone else has (409).
UNVERIFIED_MEMBER = Policy(
    "a member whose address is unproven",
    "required",
    caller="reader",
    cases=(Case("reader", OK), *(Case(label, 409) for label in MEMBERS if label != "reader")),
)
# Only the reader has a login at {session_id}; to anyone else it does not exist.
SESSION_OWNER = Policy(
    "the member whose login it is",
    "required",
    caller="reader",
    cases=(Case("reader", OK), *(Case(label, 404) for label in MEMBERS if label != "reader")),
)
LINK_HOLDER = Policy("the holder of a mailed link (its token in the body)", "ignored")
FOLLOWER = Policy(
    "any member, on another member (following yourself: 422)",
    "required",
    caller="reader",
    cases=(*allowed(*MEMBERS), Case("self", 422)),
)
OWN_ACCOUNT_REMOVAL = Policy(
    "any member, on their own account; never the last owner",
    "required",
    caller="reader",
    # Each call spends its actor; "author" writes the fresh posts of earlier cases, so last.
    cases=(Case("owner", 409), *allowed("reader", "editor", "admin", "author")),
)
POST_EDITOR = Policy(
    "the post's author, or editor and above",
    "required",
    caller="author",
    cases=denied("reader", "rival") + allowed("author", *STAFF),
)
MEDIA_EDITOR = Policy(
    "the media's uploader, or editor and above",
    "required",
    caller="author",
    cases=denied("reader", "rival") + allowed("author", *STAFF),
)
COMMENT_MODERATOR = Policy(
    "the comment's author, the post's author, or editor and above",
    "required",
    caller="commenter",
    cases=denied("reader", "rival") + allowed("commenter", "author", *STAFF),
)

# Every route of the app, by "METHOD path". A route missing here fails
# test_every_route_has_a_policy: decide who may call it, then add it.
ROUTE_POLICY: Final[dict[str, Policy]] = {
    "GET /openapi.json": PLATFORM,
    "GET /docs": PLATFORM,
    "GET /docs/oauth2-redirect": PLATFORM,
    "GET /redoc": PLATFORM,
    "GET /health": PLATFORM,
    "GET /health/ready": PLATFORM,
    "GET /metrics": OPERATOR,
    "GET /problems": PLATFORM,
    "GET /problems/{code}": PLATFORM,
    "POST /api/v1/tenants": PLATFORM,
    "GET /api/v1/tenants/{tenant}": ANYONE,
    "PATCH /api/v1/tenants/{tenant}": ADMIN,
    "POST /api/v1/tenants/{tenant}/auth/register": ANYONE,
    "POST /api/v1/tenants/{tenant}/auth/token": ANYONE,
    "POST /api/v1/tenants/{tenant}/auth/refresh": REFRESH_HOLDER,
    "POST /api/v1/tenants/{tenant}/auth/logout": REFRESH_HOLDER,
    "POST /api/v1/tenants/{tenant}/auth/verify-email": LINK_HOLDER,
    "POST /api/v1/tenants/{tenant}/auth/verify-email/resend": UNVERIFIED_MEMBER,
    "POST /api/v1/tenants/{tenant}/auth/password/forgot": ANYONE,
    "POST /api/v1/tenants/{tenant}/auth/password/reset": LINK_HOLDER,
    "POST /api/v1/tenants/{tenant}/auth/email/confirm": LINK_HOLDER,
    "POST /api/v1/tenants/{tenant}/users/me/email": MEMBER,
    "GET /api/v1/tenants/{tenant}/users/me/sessions": MEMBER,
    "DELETE /api/v1/tenants/{tenant}/users/me/sessions": MEMBER,
    "DELETE /api/v1/tenants/{tenant}/users/me/sessions/{session_id}": SESSION_OWNER,
    "POST /api/v1/tenants/{tenant}/users/{user_id}/unlock": UNLOCKER,
    "GET /api/v1/tenants/{tenant}/users/me": MEMBER,
    "PATCH /api/v1/tenants/{tenant}/users/me": MEMBER,
    "POST /api/v1/tenants/{tenant}/users/me/password": MEMBER,
    "DELETE /api/v1/tenants/{tenant}/users/me": OWN_ACCOUNT_REMOVAL,
    "GET /api/v1/tenants/{tenant}/users": ADMIN,
    "GET /api/v1/tenants/{tenant}/users/{user_id}": ANYONE,
    "PATCH /api/v1/tenants/{tenant}/users/{user_id}": ACCOUNT_ADMIN,
    "DELETE /api/v1/tenants/{tenant}/users/{user_id}": ACCOUNT_SELF_OR_ADMIN,
    "GET /api/v1/tenants/{tenant}/users/{user_id}/with-posts": PUBLIC,
    "GET /api/v1/tenants/{tenant}/posts": PUBLIC,
    "POST /api/v1/tenants/{tenant}/posts": AUTHOR,
    "GET /api/v1/tenants/{tenant}/posts/by-slug/{slug}": PUBLIC,
    "GET /api/v1/tenants/{tenant}/posts/{post_id}": PUBLIC,
    "PATCH /api/v1/tenants/{tenant}/posts/{post_id}": POST_EDITOR,
    "DELETE /api/v1/tenants/{tenant}/posts/{post_id}": POST_EDITOR,
    "GET /api/v1/tenants/{tenant}/posts/{post_id}/comments": PUBLIC,
    "POST /api/v1/tenants/{tenant}/posts/{post_id}/comments": MEMBER,
    "DELETE /api/v1/tenants/{tenant}/posts/{post_id}/comments/{comment_id}": COMMENT_MODERATOR,
    "GET /api/v1/tenants/{tenant}/posts/{post_id}/revisions": POST_EDITOR,
    "GET /api/v1/tenants/{tenant}/posts/{post_id}/revisions/{revision_id}": POST_EDITOR,
    "POST /api/v1/tenants/{tenant}/posts/{post_id}/revisions/{revision_id}/restore": POST_EDITOR,
    "PUT /api/v1/tenants/{tenant}/posts/{post_id}/autosave": POST_EDITOR,
    "GET /api/v1/tenants/{tenant}/posts/{post_id}/autosaves": POST_EDITOR,
    "GET /api/v1/tenants/{tenant}/posts/{post_id}/edit": POST_EDITOR,
    "GET /api/v1/tenants/{tenant}/tags": ANYONE,
    "GET /api/v1/tenants/{tenant}/feed": MEMBER,
    "POST /api/v1/tenants/{tenant}/users/{user_id}/follow": FOLLOWER,
    "DELETE /api/v1/tenants/{tenant}/users/{user_id}/follow": MEMBER,
    "POST /api/v1/tenants/{tenant}/posts/{post_id}/favorite": MEMBER,
    "DELETE /api/v1/tenants/{tenant}/posts/{post_id}/favorite": MEMBER,
    "GET /blogs/{tenant}/rss.xml": DOCUMENT,
    "GET /blogs/{tenant}/feed.atom": DOCUMENT,
    "GET /blogs/{tenant}/sitemap.xml": DOCUMENT,
    "GET /blogs/{tenant}/sitemaps/posts.xml": DOCUMENT,
    "GET /blogs/{tenant}/sitemaps/tags.xml": DOCUMENT,
    "GET /blogs/{tenant}/sitemaps/authors.xml": DOCUMENT,
    "POST /api/v1/tenants/{tenant}/webhooks": ADMIN,
    "GET /api/v1/tenants/{tenant}/webhooks": ADMIN,
    "GET /api/v1/tenants/{tenant}/webhooks/{endpoint_id}": ADMIN,
    "PATCH /api/v1/tenants/{tenant}/webhooks/{endpoint_id}": ADMIN,
    "DELETE /api/v1/tenants/{tenant}/webhooks/{endpoint_id}": ADMIN,
    "POST /api/v1/tenants/{tenant}/webhooks/{endpoint_id}/rotate-secret": ADMIN,
    "POST /api/v1/tenants/{tenant}/webhooks/{endpoint_id}/ping": ADMIN,
    "GET /api/v1/tenants/{tenant}/webhooks/{endpoint_id}/deliveries": ADMIN,
    "GET /api/v1/tenants/{tenant}/webhooks/{endpoint_id}/deliveries/{delivery_id}": ADMIN,
    "POST /api/v1/tenants/{tenant}/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay": ADMIN,
    "POST /api/v1/tenants/{tenant}/keys": ADMIN,
    "GET /api/v1/tenants/{tenant}/keys": ADMIN,
    "DELETE /api/v1/tenants/{tenant}/keys/{key_id}": ADMIN,
    "POST /api/v1/tenants/{tenant}/media": AUTHOR,
    "GET /api/v1/tenants/{tenant}/media": AUTHOR,
    "GET /api/v1/tenants/{tenant}/media/{media_id}": AUTHOR,
    "PATCH /api/v1/tenants/{tenant}/media/{media_id}": MEDIA_EDITOR,
    "DELETE /api/v1/tenants/{tenant}/media/{media_id}": MEDIA_EDITOR,
}

# The routes an admin key may call, by the scope it needs; a key is refused (403) on every
# other route that needs a caller.
ROUTE_SCOPE: Final[dict[str, Scope]] = {
    "POST /api/v1/tenants/{tenant}/posts": Scope.posts_write,
    "PATCH /api/v1/tenants/{tenant}/posts/{post_id}": Scope.posts_write,
    "DELETE /api/v1/tenants/{tenant}/posts/{post_id}": Scope.posts_write,
    "DELETE /api/v1/tenants/{tenant}/posts/{post_id}/comments/{comment_id}": (
        Scope.comments_moderate
    ),
    "GET /api/v1/tenants/{tenant}/posts/{post_id}/revisions": Scope.posts_write,
    "GET /api/v1/tenants/{tenant}/posts/{post_id}/revisions/{revision_id}": Scope.posts_write,
    "POST /api/v1/tenants/{tenant}/posts/{post_id}/revisions/{revision_id}/restore": (
        Scope.posts_write
    ),
    "PUT /api/v1/tenants/{tenant}/posts/{post_id}/autosave": Scope.posts_write,
    "GET /api/v1/tenants/{tenant}/posts/{post_id}/autosaves": Scope.posts_write,
    "GET /api/v1/tenants/{tenant}/posts/{post_id}/edit": Scope.posts_write,
    "GET /api/v1/tenants/{tenant}/users": Scope.members_read,
    "POST /api/v1/tenants/{tenant}/media": Scope.posts_write,
    "GET /api/v1/tenants/{tenant}/media": Scope.posts_write,
    "GET /api/v1/tenants/{tenant}/media/{media_id}": Scope.posts_write,
    "PATCH /api/v1/tenants/{tenant}/media/{media_id}": Scope.posts_write,
    "DELETE /api/v1/tenants/{tenant}/media/{media_id}": Scope.posts_write,
    "POST /api/v1/tenants/{tenant}/webhooks": Scope.webhooks_manage,
    "GET /api/v1/tenants/{tenant}/webhooks": Scope.webhooks_manage,
    "GET /api/v1/tenants/{tenant}/webhooks/{endpoint_id}": Scope.webhooks_manage,
    "PATCH /api/v1/tenants/{tenant}/webhooks/{endpoint_id}": Scope.webhooks_manage,
    "DELETE /api/v1/tenants/{tenant}/webhooks/{endpoint_id}": Scope.webhooks_manage,
    "POST /api/v1/tenants/{tenant}/webhooks/{endpoint_id}/rotate-secret": Scope.webhooks_manage,
    "POST /api/v1/tenants/{tenant}/webhooks/{endpoint_id}/ping": Scope.webhooks_manage,
    "GET /api/v1/tenants/{tenant}/webhooks/{endpoint_id}/deliveries": Scope.webhooks_manage,
    "GET /api/v1/tenants/{tenant}/webhooks/{endpoint_id}/deliveries/{delivery_id}": (
        Scope.webhooks_manage
    ),
    "POST /api/v1/tenants/{tenant}/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay": (
        Scope.webhooks_manage
    ),
}


# --- the routes, from the app -------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One method on one path template, as the app serves it."""

    method: str
    path: str
    body: str | None = None  # the request body's media type
    path_params: tuple[str, ...] = ()
    token: TokenUse = "ignored"  # as the schema says
    enum_queries: tuple[tuple[str, tuple[str, ...]], ...] = ()  # query parameter, its values
    in_schema: bool = True

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def key(self) -> str:
        return str(self)

    @property
    def policy(self) -> Policy:
        return ROUTE_POLICY[self.key]

    @property
    def tenant_scoped(self) -> bool:
        return any(
            self.path == prefix or self.path.startswith(prefix + "/") for prefix in TENANT_PREFIXES
        )

    @property
    def object_params(self) -> tuple[str, ...]:
        """The ids of a blog's objects in the path (a platform route has none)."""
        if not self.tenant_scoped:
            return ()
        return tuple(name for name in self.path_params if name != "tenant")


def _resolve(schema: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return node
    resolved: Mapping[str, Any] = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return resolved


def _token_use(security: list[dict[str, Any]] | None) -> TokenUse:
    """No requirement listed: no token is read; ``{}`` among them: the token is optional."""
    if not security:
        return "ignored"
    return "optional" if {} in security else "required"


def _operation(
    schema: Mapping[str, Any], method: str, path: str, spec: Mapping[str, Any]
) -> Operation:
    parameters = spec.get("parameters", [])
    media_types = list(spec.get("requestBody", {}).get("content", {}))
    enum_queries = tuple(
        (parameter["name"], tuple(values))
        for parameter in parameters
        if parameter["in"] == "query"
        and (values := _resolve(schema, parameter["schema"]).get("enum"))
    )
    return Operation(
        method=method.upper(),
        path=path,
        body=media_types[0] if media_types else None,
        path_params=tuple(PATH_PARAMETER.findall(path)),
        token=_token_use(spec.get("security")),
        enum_queries=enum_queries,
    )


def collect_operations(app: FastAPI) -> tuple[Operation, ...]:
    schema = app.openapi()
    operations = [
        _operation(schema, method, path, spec)
        for path, item in schema["paths"].items()
        for method, spec in item.items()
        if method in {"get", "put", "post", "patch", "delete"}
    ]
    # Routes left out of the schema (the docs, the schema itself) are routes all the same.
    for route in iter_route_contexts(app.routes):
        if route.path == conduit.MOUNT_PATH:
            continue  # the RealWorld API, with its own schema: tests/test_conduit_tenancy.py
        if route.path == MEDIA_PATH:
            continue  # uploaded files (static, no caller, no blog in the path): test_media.py
        if route.include_in_schema or not route.path:
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            operations.append(
                Operation(
                    method,
                    route.path,
                    path_params=tuple(PATH_PARAMETER.findall(route.path)),
                    in_schema=False,
                )
            )
    return tuple(operations)


OPERATIONS: Final = collect_operations(
    create_app(
        Settings(_env_file=None, environment="test", bcrypt_rounds=4, database_url="sqlite://")
    )
)


def operations_where(predicate: Callable[[Operation, Policy], bool]) -> list[Operation]:
    """The classified operations matching ``predicate`` (unclassified ones fail elsewhere)."""
    return [
        op
        for op in OPERATIONS
        if (policy := ROUTE_POLICY.get(op.key)) is not None and predicate(op, policy)
    ]


CLASSIFIED = operations_where(lambda _op, _policy: True)
READS_TOKEN = operations_where(lambda op, policy: op.tenant_scoped and policy.token != "ignored")
WITH_OBJECT_IDS = operations_where(lambda op, _policy: bool(op.object_params))
TAKES_REFRESH_TOKEN = operations_where(lambda _op, policy: policy is REFRESH_HOLDER)
GATED = operations_where(lambda _op, policy: bool(policy.cases))
ON_ONE_POST = operations_where(lambda op, _policy: bool({"post_id", "slug"} & {*op.path_params}))
PUBLIC_READS = operations_where(
    lambda op, policy: op.method == "GET" and op.tenant_scoped and policy.token != "required"
)
WITH_JSON_BODY = operations_where(lambda op, _policy: op.body == JSON)


# --- the world: two blogs -----------------------------------------------------------------


@dataclass(frozen=True)
class Objects:
    """A value for every path parameter: one blog's slug and real (or unknown) object ids."""

    tenant: str
    user_id: str
    post_id: str
    slug: str
    comment_id: str
    session_id: str  # a login of the blog's reader
    endpoint_id: str = ""  # a webhook endpoint of the blog
    delivery_id: str = ""  # a (delivered) delivery to that endpoint
    key_id: str = ""  # a content key of the blog
    revision_id: str = ""  # a revision of the post
    media_id: str = ""  # a media uploaded by the author
    code: str = "not_found"  # a problem type: platform documentation, no blog's object

    def fill(self, template: str) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in OBJECT_FIELDS:
                raise LookupError(f"no value for path parameter {{{name}}}: add it to Objects")
            return str(getattr(self, name))

        return PATH_PARAMETER.sub(value, template)

    def unknown(self, param: str) -> "Objects":
        """These objects with ``param`` replaced by a well-formed value naming nothing."""
        value = f"no-such-post-{secrets.token_hex(4)}" if param == "slug" else str(uuid.uuid4())
        return replace(self, **{param: value})

    def take(self, param: str, other: "Objects") -> "Objects":
        """These objects with ``param`` taken from ``other``."""
        return replace(self, **{param: getattr(other, param)})


OBJECT_FIELDS: Final = frozenset(f.name for f in dataclasses.fields(Objects))


@dataclass(frozen=True)
class Member:
    """An account of one blog, with a valid access token."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    username: str
    role: Role
    headers: Headers


@dataclass(frozen=True)
class Site:
    """One blog of the world."""

    slug: str
    tenant_id: uuid.UUID
    members: dict[str, Member]
    objects: Objects  # the author, their published post, its comment (by the commenter)
    draft: Objects  # the author, their draft, a comment on it
    draft_tag: str  # a tag only the draft has
    scheduled: Objects  # the author, their post scheduled for tomorrow, a comment on it
    scheduled_tag: str  # a tag only the scheduled post has
    keys: dict[str, str]  # "content" and "admin" (the owner's, every scope): the key texts
    tenant: Tenant = field(repr=False)  # ORM rows, for factories
    users: dict[str, User] = field(repr=False)

    def identifiers(self) -> set[str]:
        """Whatever names this blog or its data: never to be seen under another blog."""
        objects = (self.objects, self.draft, self.scheduled)
        return {
            self.slug,
            str(self.tenant_id),
            *(str(member.id) for member in self.members.values()),
            *(member.username for member in self.members.values()),
            *(o.post_id for o in objects),
            *(o.slug for o in objects),
            *(o.comment_id for o in objects),
            *(o.revision_id for o in objects),
            self.objects.endpoint_id,
            self.objects.delivery_id,
            self.objects.key_id,
            self.objects.media_id,
        }


def mentions(identifiers: Iterable[str]) -> re.Pattern[str]:
    """Finds any of ``identifiers`` as a whole word (``blog-2`` is not in ``blog-21``)."""
    words = "|".join(sorted(map(re.escape, identifiers), key=len, reverse=True))
    return re.compile(rf"(?<![\w.-])(?:{words})(?![\w.-])")


class ResponseScan:
    """Sees every response of a test (a client event hook); lists what none may hold."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self._refresh_tokens: set[str] = set()
        self._foreign: dict[str, re.Pattern[str]] = {}  # a blog's path -> the other's names

    def guard(self, site: Site, other: Site) -> None:
        """Nothing naming ``other`` may appear in answers under ``site``'s paths."""
        for prefix in TENANT_PREFIXES:
            self._foreign[prefix.format(tenant=site.slug)] = mentions(other.identifiers())

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        where = f"{request.method} {request.url.path} -> {response.status_code}"
        text = "\n".join((response.text, *(f"{k}: {v}" for k, v in response.headers.items())))
        if "$2b$" in text:
            self.problems.append(f"{where}: a bcrypt hash")
        if WEBHOOK_SECRET.search(text) and not _hands_out_a_secret(request):
            self.problems.append(f"{where}: a webhook secret")
        if API_KEY.search(text) and not (
            request.method == "POST" and request.url.path.endswith("/keys")
        ):
            self.problems.append(f"{where}: an API key it did not make")
        issued = _issued_refresh_token(response)
        if any(token in text for token in self._refresh_tokens - {issued}):
            self.problems.append(f"{where}: a refresh token it did not issue")
        if issued:
            self._refresh_tokens.add(issued)
        path = request.url.path
        for base, foreign in self._foreign.items():
            under = path == base or path.startswith(base + "/")
            if under and (found := foreign.search(text)):
                self.problems.append(f"{where}: names the other blog's {found.group()!r}")


def _hands_out_a_secret(request: httpx.Request) -> bool:
    """A webhook endpoint's secret is answered once: when it is made, or rotated."""
    path = request.url.path
    return request.method == "POST" and (
        path.endswith("/webhooks") or path.endswith("/rotate-secret")
    )


def _issued_refresh_token(response: httpx.Response) -> str | None:
    if not response.content or not response.headers.get("content-type", "").startswith(JSON):
        return None
    body = response.json()
    token = body.get("refresh_token") if isinstance(body, dict) else None
    return token if isinstance(token, str) else None


class World:
    """Blogs A and B, and the means to call any operation against them."""

    def __init__(
        self, client: TestClient, db: Session, auth_headers: AuthHeaders, a: Site, b: Site
    ) -> None:
        self.client, self.db, self._auth_headers = client, db, auth_headers
        self.a, self.b = a, b

    def member(self, user: User) -> Member:
        return member_of(user, self._auth_headers)

    def site_of(self, objects: Objects) -> Site:
        return self.b if objects.tenant == self.b.slug else self.a

    def call(
        self,
        op: Operation,
        objects: Objects,
        *,
        headers: Headers | None = None,
        body: Body | None = None,
        query: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send ``op`` on ``objects``' path, with a valid body unless ``body`` is given."""
        url = objects.fill(op.path)
        if op.body is None:
            return self.client.request(op.method, url, headers=headers, params=query)
        payload = body if body is not None else self.valid_body(op, self.site_of(objects))
        if op.body == JSON:
            return self.client.request(op.method, url, headers=headers, params=query, json=payload)
        if op.body == FORM:
            return self.client.request(op.method, url, headers=headers, params=query, data=payload)
        if op.body == MULTIPART:
            files = {"file": ("dot.png", A_PNG, "image/png")}
            return self.client.request(
                op.method, url, headers=headers, params=query, data=payload, files=files
            )
        raise NotImplementedError(f"{op}: teach World.call to send {op.body}")

    def valid_body(self, op: Operation, site: Site) -> Body:
        if op.key not in BODIES:
            pytest.fail(f"{op} takes a body: add a valid one to BODIES")
        return BODIES[op.key](self, site)

    def refresh_token(self, site: Site) -> str:
        """The refresh token of a new login of ``site``'s reader."""
        response = self.client.post(
            f"/api/v1/tenants/{site.slug}/auth/token",
            data={"username": site.members["reader"].username, "password": DEFAULT_PASSWORD},
        )
        assert response.status_code == 200, response.text
        return str(response.json()["refresh_token"])

    def fresh(self, site: Site, target_role: Role = Role.author) -> tuple[Objects, Member]:
        """New objects to spend: a post by the author with the commenter's comment, and an
        account of ``target_role`` for ``{user_id}`` (returned too, to act as itself)."""
        target = UserFactory.create(tenant=site.tenant, role=target_role)
        post = PostFactory.create(author=site.users["author"])
        comment = CommentFactory.create(post=post, author=site.users["commenter"])
        revision = PostRevisionFactory.create(post=post)
        reader = site.users["reader"]
        # A case may have deleted the reader; a route with {session_id} then has no case left.
        reader_left = self.db.execute(
            sa.select(sa.column("id"))
            .select_from(sa.table("users"))
            .where(sa.column("id") == reader.id)
        ).first()
        login = (
            str(AuthSessionFactory.create(user=reader).id)
            if reader_left is not None
            else site.objects.session_id
        )
        hook = WebhookDeliveryFactory.create(endpoint__tenant=site.tenant)
        key = ApiKeyFactory.create(tenant=site.tenant)
        media = MediaFactory.create(uploader=site.users["author"])
        objects = Objects(
            site.slug,
            str(target.id),
            str(post.id),
            post.slug,
            str(comment.id),
            login,
            endpoint_id=str(hook.endpoint_id),
            delivery_id=hook.id,
            key_id=str(key.id),
            revision_id=str(revision.id),
            media_id=str(media.id),
        )
        return objects, self.member(target)

    def link(self, site: Site, purpose: LinkPurpose, **fields: object) -> str:
        """The token of a new mailed link for ``site``'s reader."""
        token = secrets.token_urlsafe(32)
        AccountTokenFactory.create(
            user=site.users["reader"], token=token, purpose=purpose, **fields
        )
        return token

    def deactivated(self, like: Member) -> Member:
        """A deactivated account of ``like``'s blog and role, with an unexpired token."""
        site = self.b if like.tenant_id == self.b.tenant_id else self.a
        return self.member(UserFactory.create(tenant=site.tenant, role=like.role, is_active=False))

    def password_changed(self, like: Member) -> Member:
        """An account of ``like``'s blog and role whose token predates a new password."""
        site = self.b if like.tenant_id == self.b.tenant_id else self.a
        account = UserFactory.create(tenant=site.tenant, role=like.role)
        headers = self.member(account).headers
        account.token_generation += 1
        self.db.add(account)
        self.db.commit()
        return replace(self.member(account), headers=headers)

    def snapshot(self) -> Snapshot:
        """Every row of every table, to prove that an attack changed nothing."""
        self.db.commit()
        state = {
            table.name: sorted(repr(tuple(row)) for row in self.db.execute(sa.select(table)))
            for table in metadata.sorted_tables
            if table.name not in TABLES_NOT_SNAPSHOTTED
        }
        self.db.commit()
        return state


def member_of(user: User, auth_headers: AuthHeaders) -> Member:
    return Member(user.id, user.tenant_id, user.username, user.role, auth_headers(user))


def build_site(auth_headers: AuthHeaders, tenant: Tenant) -> Site:
    """One member per label of MEMBERS; the author's post (tagged, commented) and draft."""
    with one_commit():  # every test builds two sites: ~40 rows, in one transaction
        return _build_site(auth_headers, tenant)


def _build_site(auth_headers: AuthHeaders, tenant: Tenant) -> Site:
    users = {
        label: UserFactory.create(
            tenant=tenant,
            role=role,
            username=f"{label}-{tenant.slug}",
            # The reader has yet to prove their address (it may ask for the link again).
            email_verified_at=None if label == "reader" else utcnow(),
        )
        for label, role in MEMBERS.items()
    }
    draft_tag = f"draft-tag-{tenant.slug}"
    post = PostFactory.create(author=users["author"], tags=[f"tag-{tenant.slug}"])
    comment = CommentFactory.create(post=post, author=users["commenter"])
    draft = PostFactory.create(author=users["author"], status=PostStatus.draft, tags=[draft_tag])
    draft_comment = CommentFactory.create(post=draft, author=users["author"])
    scheduled_tag = f"scheduled-tag-{tenant.slug}"
    scheduled = PostFactory.create(
        author=users["author"],
        status=PostStatus.scheduled,
        published_at=utcnow() + timedelta(days=1),
        tags=[scheduled_tag],
    )
    scheduled_comment = CommentFactory.create(post=scheduled, author=users["author"])
    revisions = {
        name: str(PostRevisionFactory.create(post=one).id)
        for name, one in (("post", post), ("draft", draft), ("scheduled", scheduled))
    }
    author_id = str(users["author"].id)
    login = str(AuthSessionFactory.create(user=users["reader"]).id)
    hook = WebhookDeliveryFactory.create(endpoint=WebhookEndpointFactory.create(tenant=tenant))
    hooks = {"endpoint_id": str(hook.endpoint_id), "delivery_id": hook.id}
    content_key = ApiKeyFactory.create(tenant=tenant)
    key_id = str(content_key.id)
    media_id = str(MediaFactory.create(uploader=users["author"]).id)
    # A content key, and an admin key of the owner with every scope.
    keys = {
        "content": plain_key(content_key),
        "admin": plain_key(
            ApiKeyFactory.create(creator=users["owner"], kind=KeyKind.admin, scopes=list(Scope))
        ),
    }
    return Site(
        slug=tenant.slug,
        tenant_id=tenant.id,
        members={label: member_of(user, auth_headers) for label, user in users.items()},
        objects=Objects(
            tenant.slug,
            author_id,
            str(post.id),
            post.slug,
            str(comment.id),
            login,
            key_id=key_id,
            revision_id=revisions["post"],
            media_id=media_id,
            **hooks,
        ),
        draft=Objects(
            tenant.slug,
            author_id,
            str(draft.id),
            draft.slug,
            str(draft_comment.id),
            login,
            key_id=key_id,
            revision_id=revisions["draft"],
            media_id=media_id,
            **hooks,
        ),
        draft_tag=draft_tag,
        scheduled=Objects(
            tenant.slug,
            author_id,
            str(scheduled.id),
            scheduled.slug,
            str(scheduled_comment.id),
            login,
            key_id=key_id,
            revision_id=revisions["scheduled"],
            media_id=media_id,
            **hooks,
        ),
        scheduled_tag=scheduled_tag,
        keys=keys,
        tenant=tenant,
        users=users,
    )


@pytest.fixture
def response_scan(client: TestClient) -> Iterator[ResponseScan]:
    """Scans every response the test gets; fails the test (at teardown) on any leak."""
    scan = ResponseScan()
    client.event_hooks["response"].append(scan)
    yield scan
    assert not scan.problems, "responses leaked:\n" + "\n".join(scan.problems)


@pytest.fixture
def world(
    client: TestClient,
    db: Session,
    tenant: Tenant,
    other_tenant: Tenant,
    auth_headers: AuthHeaders,
    response_scan: ResponseScan,
) -> World:
    a, b = build_site(auth_headers, tenant), build_site(auth_headers, other_tenant)
    response_scan.guard(a, b)
    response_scan.guard(b, a)
    return World(client, db, auth_headers, a, b)


# --- request bodies -----------------------------------------------------------------------


def _a_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    return buffer.getvalue()


A_PNG: Final = _a_png()  # the file of every upload

# A valid body for every route that takes one, by "METHOD path" (the token route takes a
# form). A route missing here fails test_every_route_with_a_body_has_a_valid_one.
BODIES: Final[dict[str, Callable[[World, Site], Body]]] = {
    "POST /api/v1/tenants": lambda _w, s: {
        "slug": f"new-{s.slug}",
        "name": "A new blog",
        "owner": {"email": "founder@example.com", "username": "founder", "password": NEW_PASSWORD},
    },
    "PATCH /api/v1/tenants/{tenant}": lambda _w, _s: {"name": "Renamed blog"},
    "POST /api/v1/tenants/{tenant}/auth/register": lambda _w, _s: {
        "email": "newcomer@example.com",
        "username": "newcomer",
        "password": NEW_PASSWORD,
    },
    "POST /api/v1/tenants/{tenant}/auth/token": lambda _w, s: {
        "username": s.members["reader"].username,
        "password": DEFAULT_PASSWORD,
    },
    "POST /api/v1/tenants/{tenant}/auth/refresh": lambda w, s: {
        "refresh_token": w.refresh_token(s)
    },
    "POST /api/v1/tenants/{tenant}/auth/logout": lambda w, s: {"refresh_token": w.refresh_token(s)},
    "POST /api/v1/tenants/{tenant}/auth/verify-email": lambda w, s: {
        "token": w.link(s, LinkPurpose.verify_email)
    },
    "POST /api/v1/tenants/{tenant}/auth/password/forgot": lambda _w, s: {
        "email": s.users["reader"].email
    },
    "POST /api/v1/tenants/{tenant}/auth/password/reset": lambda w, s: {
        "token": w.link(s, LinkPurpose.reset_password),
        "new_password": NEW_PASSWORD,
    },
    "POST /api/v1/tenants/{tenant}/auth/email/confirm": lambda w, s: {
        "token": w.link(
            s, LinkPurpose.change_email, email=f"moved-{secrets.token_hex(4)}@example.com"
        )
    },
    "POST /api/v1/tenants/{tenant}/users/me/email": lambda _w, _s: {
        "new_email": "moved@example.com",
        "current_password": DEFAULT_PASSWORD,
    },
    "PATCH /api/v1/tenants/{tenant}/users/me": lambda _w, _s: {"name": "New Name"},
    "POST /api/v1/tenants/{tenant}/users/me/password": lambda _w, _s: {
        "current_password": DEFAULT_PASSWORD,
        "new_password": NEW_PASSWORD,
    },
    "PATCH /api/v1/tenants/{tenant}/users/{user_id}": lambda _w, _s: {"role": "reader"},
    "POST /api/v1/tenants/{tenant}/posts": lambda _w, _s: {"title": "Attack!", "body": "Text."},
    "PATCH /api/v1/tenants/{tenant}/posts/{post_id}": lambda _w, _s: {"title": "Retitled"},
    "POST /api/v1/tenants/{tenant}/posts/{post_id}/comments": lambda _w, _s: {"body": "Nice."},
    "PUT /api/v1/tenants/{tenant}/posts/{post_id}/autosave": lambda _w, _s: {"body": "Working."},
    # A public address (an address literal: registration resolves nothing).
    "POST /api/v1/tenants/{tenant}/webhooks": lambda _w, _s: {
        "url": "https://93.184.215.14/hook",
        "events": ["post.published"],
    },
    "PATCH /api/v1/tenants/{tenant}/webhooks/{endpoint_id}": lambda _w, _s: {
        "description": "Renamed"
    },
    "POST /api/v1/tenants/{tenant}/keys": lambda _w, _s: {"kind": "content", "name": "A key"},
    # Form fields; World.call adds the image (A_PNG).
    "POST /api/v1/tenants/{tenant}/media": lambda _w, _s: {"alt": "A dot"},
    "PATCH /api/v1/tenants/{tenant}/media/{media_id}": lambda _w, _s: {"alt": "A described dot"},
}

# Fields a client may never set, smuggled into every JSON body...
SMUGGLED_FIELDS: Final = ("tenant_id", "author_id", "role", "id", "hashed_password", "is_active")
# ...except where the route takes them (at the top level of its body).
LEGITIMATE_FIELDS: Final[dict[str, frozenset[str]]] = {
    "PATCH /api/v1/tenants/{tenant}/users/{user_id}": frozenset({"role", "is_active"}),
    "POST /api/v1/tenants/{tenant}/webhooks": frozenset({"is_active"}),
    "PATCH /api/v1/tenants/{tenant}/webhooks/{endpoint_id}": frozenset({"is_active"}),
}
FAKE_BCRYPT_HASH: Final = "$2b$04$" + "x" * 53


def smuggled_value(world: World, name: str) -> object:
    values: dict[str, object] = {
        "tenant_id": str(world.b.tenant_id),
        "author_id": str(world.a.members["rival"].id),
        "role": "owner",
        "id": str(uuid.uuid4()),
        "hashed_password": FAKE_BCRYPT_HASH,
        "is_active": False,
    }
    return values[name]


def object_paths(body: Body, where: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Where ``body`` has an object: ``()`` for the body itself, then nested ones."""
    yield where
    for key, value in body.items():
        if isinstance(value, dict):
            yield from object_paths(value, (*where, key))


def with_field(body: Body, where: tuple[str, ...], name: str, value: object) -> Body:
    """A copy of ``body`` with ``name: value`` added to the object at ``where``."""
    changed = copy.deepcopy(body)
    target = changed
    for key in where:
        target = target[key]
    target[name] = value
    return changed


# --- tokens -------------------------------------------------------------------------------


def claims(member: Member, **changes: object) -> dict[str, object]:
    """Valid access-token claims for ``member``, with ``changes`` applied."""
    now = int(time.time())
    return {
        "sub": str(member.id),
        "tid": str(member.tenant_id),
        "iat": now,
        "exp": now + 900,
        "jti": secrets.token_urlsafe(12),
        "typ": "access",
        "gen": 0,  # the generation of every account the world makes
        **changes,
    }


def bearer(token: str) -> str:
    return f"Bearer {token}"


# Each makes the Authorization header of a bad token for A's owner.
FORGERIES: Final[dict[str, Callable[[World, Member], str]]] = {
    "garbage": lambda _w, _m: "Bearer garbage",
    "expired": lambda _w, m: bearer(
        sign(claims(m, iat=int(time.time()) - 3600, exp=int(time.time()) - 60))
    ),
    "typ refresh": lambda _w, m: bearer(sign(claims(m, typ="refresh"))),
    "tid of the other blog": lambda w, m: bearer(sign(claims(m, tid=str(w.b.tenant_id)))),
    "sub from the other blog": lambda w, m: bearer(
        sign(claims(w.b.members["owner"], tid=str(m.tenant_id)))
    ),
    "alg none": lambda _w, m: bearer(
        f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(claims(m))}."
    ),
    "HS512": lambda _w, m: bearer(sign(claims(m), algorithm="HS512")),
    "other secret": lambda _w, m: bearer(sign(claims(m), key="another-secret-key-" * 3)),
    "flipped signature": lambda _w, m: bearer(flip_signature_character(sign(claims(m)))),
    "deactivated account": lambda w, m: w.deactivated(m).headers["Authorization"],
    "issued before a new password": lambda w, m: w.password_changed(m).headers["Authorization"],
    "no generation": lambda _w, m: bearer(sign({k: v for k, v in claims(m).items() if k != "gen"})),
}


def is_unauthorized(response: httpx.Response) -> bool:
    return response.status_code == 401 and response.headers.get("WWW-Authenticate") == "Bearer"


def show(response: httpx.Response) -> str:
    return f"{response.status_code} {response.text[:200]}"


# --- the tables keep up with the app ------------------------------------------------------


def test_every_route_has_a_policy() -> None:
    routes = {op.key for op in OPERATIONS}
    unclassified = sorted(routes - ROUTE_POLICY.keys())
    gone = sorted(ROUTE_POLICY.keys() - routes)

    assert not unclassified, f"decide who may call these, in ROUTE_POLICY: {unclassified}"
    assert not gone, f"ROUTE_POLICY names routes the app no longer has: {gone}"


def test_every_route_with_a_body_has_a_valid_one() -> None:
    with_body = {op.key for op in OPERATIONS if op.body}

    assert not with_body - BODIES.keys(), f"add a valid body to BODIES: {with_body - BODIES.keys()}"
    assert not BODIES.keys() - with_body, f"these take no body: {BODIES.keys() - with_body}"
    assert LEGITIMATE_FIELDS.keys() <= with_body


def test_policies_agree_with_the_schema() -> None:
    problems = []
    for op in CLASSIFIED:
        policy = op.policy
        if policy.tenant_scoped != op.tenant_scoped:
            problems.append(f"{op}: policy {policy.name!r}, but tenant-scoped={op.tenant_scoped}")
        if op.in_schema and policy.token != op.token:
            problems.append(f"{op}: policy {policy.name!r}, but its token is {op.token}")
        if unfillable := set(op.path_params) - OBJECT_FIELDS:
            problems.append(f"{op}: no value for {unfillable}; add it to Objects")
        if op.body not in (None, JSON, FORM, MULTIPART):
            problems.append(f"{op}: takes {op.body}; teach World.call to send it")
        for case in policy.cases:
            if case.actor not in {*MEMBERS, "self"}:
                problems.append(f"{op}: unknown actor {case.actor!r}")
            if (
                case.actor == "self" or case.target != Role.author
            ) and "user_id" not in op.path_params:
                problems.append(f"{op}: {case} needs a {{user_id}} in the path")
            if case.body is not None and op.body != JSON:
                problems.append(f"{op}: {case} sends a body, but the route takes no JSON")

    assert not problems, "\n".join(problems)


# --- 0. baseline --------------------------------------------------------------------------


@pytest.mark.parametrize("op", CLASSIFIED, ids=str)
def test_intended_caller_succeeds(world: World, op: Operation) -> None:
    """Each route works for its intended caller, so that the refusals below mean something."""
    caller = op.policy.caller
    headers = world.a.members[caller].headers if caller else None

    if op.policy is OPERATOR:  # scraped from the machine itself
        response = TestClient(world.client.app, client=("127.0.0.1", 1)).get(op.path)
    else:
        response = world.call(op, world.a.objects, headers=headers)

    assert response.is_success, f"{op} as {caller or 'anonymous'}: {show(response)}"
    if op.policy.token == "optional":
        with_token = world.call(op, world.a.objects, headers=world.a.members["owner"].headers)
        assert with_token.is_success, f"{op} as owner: {show(with_token)}"


# --- 1. broken object-level authorization (BOLA) ------------------------------------------


@pytest.mark.parametrize("op", READS_TOKEN, ids=str)
def test_token_of_one_blog_is_401_under_another(world: World, op: Operation) -> None:
    """A's admin token is worthless under B's path (routes reading no token are left out)."""
    before = world.snapshot()

    response = world.call(op, world.b.objects, headers=world.a.members["admin"].headers)

    assert is_unauthorized(response), show(response)
    assert world.snapshot() == before


@pytest.mark.parametrize("op", WITH_OBJECT_IDS, ids=str)
def test_other_blogs_ids_are_404_like_unknown_ids(world: World, op: Operation) -> None:
    """Under A's path, each of B's ids in turn is a 404 indistinguishable from a made-up id."""
    a, b = world.a, world.b
    callers: dict[str, Headers | None] = {"A's owner": a.members["owner"].headers}
    if op.method == "GET" and op.policy.token != "required":
        callers["anonymous"] = None
    before = world.snapshot()
    problems = []

    for param in op.object_params:
        for who, headers in callers.items():
            foreign = world.call(op, a.objects.take(param, b.objects), headers=headers)
            unknown = world.call(op, a.objects.unknown(param), headers=headers)
            if not (foreign.status_code == unknown.status_code == 404) or (
                masked(foreign) != masked(unknown)
            ):
                problems.append(
                    f"B's {param} as {who}: {show(foreign)}; unknown {param}: {show(unknown)}"
                )

    assert not problems, "\n".join(problems)
    assert world.snapshot() == before


@pytest.mark.parametrize("op", TAKES_REFRESH_TOKEN, ids=str)
def test_refresh_token_of_one_blog_does_nothing_under_another(world: World, op: Operation) -> None:
    """Under B's path, A's refresh token is an unknown one: same answer, and it survives."""
    token = world.refresh_token(world.a)
    before = world.snapshot()

    foreign = world.call(op, world.b.objects, body={"refresh_token": token})
    unknown = world.call(op, world.b.objects, body={"refresh_token": secrets.token_urlsafe(32)})

    assert (foreign.status_code, masked(foreign)) == (unknown.status_code, masked(unknown))
    assert world.snapshot() == before  # A's login is neither spent nor revoked


# --- 2. broken function-level authorization (BFLA) ----------------------------------------


@pytest.mark.parametrize("op", GATED, ids=str)
def test_each_member_gets_what_their_role_allows(world: World, op: Operation) -> None:
    """Every case of the route's policy, each on fresh objects (the allowed ones spend them)."""
    problems = []
    for case in op.policy.cases:
        objects, target = world.fresh(world.a, case.target)
        actor = target if case.actor == "self" else world.a.members[case.actor]
        before = world.snapshot() if case.expect != OK else None

        response = world.call(op, objects, headers=actor.headers, body=case.body)

        who = case.actor + (f" on a {case.target}" if "user_id" in op.path_params else "")
        who += f" sending {case.body}" if case.body else ""
        if case.expect == OK and not response.is_success:
            problems.append(f"{who}: expected 2xx, got {show(response)}")
        elif case.expect != OK and response.status_code != case.expect:
            problems.append(f"{who}: expected {case.expect}, got {show(response)}")
        elif before is not None and world.snapshot() != before:
            problems.append(f"{who}: refused, but the database changed")

    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("hidden", ["draft", "scheduled"])
@pytest.mark.parametrize("op", ON_ONE_POST, ids=str)
def test_a_draft_is_404_to_whoever_may_not_see_it(world: World, op: Operation, hidden: str) -> None:
    """Members who may not see a draft (or a post scheduled for later) get the 404 of a
    post that does not exist."""
    a = replace(world.a, draft=getattr(world.a, hidden))
    viewers: dict[str, Headers | None] = {
        "reader": a.members["reader"].headers,
        "rival": a.members["rival"].headers,
    }
    if op.policy.token != "required":
        viewers["anonymous"] = None
        viewers["a content key"] = key_header(a.keys["content"])
    post_param = "post_id" if "post_id" in op.path_params else "slug"
    before = world.snapshot()
    problems = []

    for who, headers in viewers.items():
        draft = world.call(op, a.draft, headers=headers)
        unknown = world.call(op, a.draft.unknown(post_param), headers=headers)
        if draft.status_code != 404 or masked(draft) != masked(unknown):
            problems.append(f"{who}: {show(draft)}; unknown post: {show(unknown)}")

    assert not problems, "\n".join(problems)
    assert world.snapshot() == before
    if op.method == "GET":  # while its author and the editors do see it
        for who in ("author", "editor"):
            response = world.call(op, a.draft, headers=a.members[who].headers)
            assert response.status_code == 200, f"{who}: {show(response)}"


def query_variants(op: Operation) -> list[dict[str, str]]:
    """No query, then each value of each enumerated query parameter (e.g. status=draft)."""
    return [{}] + [{name: value} for name, values in op.enum_queries for value in values]


@pytest.mark.parametrize("op", PUBLIC_READS, ids=str)
def test_drafts_never_show_to_whoever_may_not_see_them(world: World, op: Operation) -> None:
    """Public reads (every value of enumerated query parameters too) never name the draft,
    nor the post scheduled for later."""
    a = world.a
    draft = mentions(
        {
            *(a.draft.post_id, a.draft.slug, a.draft.comment_id, a.draft_tag),
            *(a.scheduled.post_id, a.scheduled.slug, a.scheduled.comment_id, a.scheduled_tag),
        }
    )
    viewers = {
        "anonymous": None,
        "reader": a.members["reader"].headers,
        "rival": a.members["rival"].headers,
        "a content key": key_header(a.keys["content"]),
    }
    problems = []

    for query in query_variants(op):
        for who, headers in viewers.items():
            response = world.call(op, a.objects, headers=headers, query=query)
            if found := draft.search(response.text):
                problems.append(f"{who} {query or ''}: shows the draft's {found.group()!r}")

    assert not problems, "\n".join(problems)


# --- 3. broken authentication -------------------------------------------------------------


@pytest.mark.parametrize("op", READS_TOKEN, ids=str)
def test_bad_tokens_are_401(world: World, op: Operation) -> None:
    """On public routes too: a bad token is refused, never taken for no token."""
    owner = world.a.members["owner"]  # allowed everywhere: a refusal is the token's doing
    forged = {name: forge(world, owner) for name, forge in FORGERIES.items()}
    before = world.snapshot()
    problems = []

    for name, authorization in forged.items():
        response = world.call(op, world.a.objects, headers={"Authorization": authorization})
        if not is_unauthorized(response):
            problems.append(f"{name}: {show(response)}")
    anonymous = world.call(op, world.a.objects)
    if op.policy.token == "required" and not is_unauthorized(anonymous):
        problems.append(f"no token: {show(anonymous)}")
    if op.policy.token == "optional" and not anonymous.is_success:
        problems.append(f"no token, on a public route: {show(anonymous)}")

    assert not problems, "\n".join(problems)
    assert world.snapshot() == before
    # Not vacuous: the real token of the route's intended caller does get in.
    caller = world.a.members[op.policy.caller] if op.policy.caller else owner
    response = world.call(op, world.a.objects, headers=caller.headers)
    assert response.is_success, show(response)


# --- 4. mass assignment -------------------------------------------------------------------


@pytest.mark.parametrize("op", WITH_JSON_BODY, ids=str)
def test_smuggled_fields_are_422(world: World, op: Operation) -> None:
    """Sent by a caller allowed to use the route, so the field is the only thing wrong."""
    a = world.a
    caller = op.policy.caller
    headers = a.members[caller].headers if caller else None
    body = world.valid_body(op, a)
    legitimate = LEGITIMATE_FIELDS.get(op.key, frozenset())
    before = world.snapshot()
    problems = []

    for where in object_paths(body):
        for name in SMUGGLED_FIELDS:
            if not where and name in legitimate:
                continue
            smuggled = with_field(body, where, name, smuggled_value(world, name))
            response = world.call(op, a.objects, headers=headers, body=smuggled)
            errors = response.json().get("errors", []) if response.status_code == 422 else []
            if ["body", *where, name] not in [error["loc"] for error in errors]:
                problems.append(f"{'.'.join((*where, name))}: {show(response)}")

    assert not problems, "\n".join(problems)
    assert world.snapshot() == before


# --- 6. API keys --------------------------------------------------------------------------


def key_header(key: str) -> Headers:
    return {"X-API-Key": key}


TENANT_ROUTES = operations_where(lambda op, _policy: op.tenant_scoped)
NEEDS_CALLER = operations_where(lambda op, policy: op.tenant_scoped and policy.token == "required")
SCOPED = operations_where(lambda op, _policy: op.key in ROUTE_SCOPE)


def warm(world: World, keys: Iterable[str]) -> None:
    """Use each of A's ``keys`` once, so that recording their use (at most once a minute)
    does not show in a snapshot taken next."""
    for key in keys:
        response = world.client.get(f"/api/v1/tenants/{world.a.slug}/tags", headers=key_header(key))
        assert response.status_code == 200, show(response)


def test_route_scopes_name_routes_needing_a_caller() -> None:
    assert {op.key for op in SCOPED} == ROUTE_SCOPE.keys()
    assert all(op.policy.token == "required" for op in SCOPED)


@pytest.mark.parametrize("op", TENANT_ROUTES, ids=str)
def test_keys_of_one_blog_are_401_under_another(world: World, op: Operation) -> None:
    """A's keys (the content key, the owner's key with every scope) are worthless under
    B's path, on every route: the answer of a key that does not exist."""
    body = world.valid_body(op, world.b) if op.body else None  # made before the snapshot
    before = world.snapshot()
    problems = []

    for kind, key in world.a.keys.items():
        foreign = world.call(op, world.b.objects, headers=key_header(key), body=body)
        unknown = world.call(
            op, world.b.objects, headers=key_header(key[:8] + "x" * (len(key) - 8)), body=body
        )
        if not is_unauthorized(foreign) or masked(foreign) != masked(unknown):
            problems.append(f"A's {kind} key: {show(foreign)}; unknown key: {show(unknown)}")

    assert not problems, "\n".join(problems)
    assert world.snapshot() == before


@pytest.mark.parametrize("op", NEEDS_CALLER, ids=str)
def test_keys_outside_their_scopes_are_403(world: World, op: Operation) -> None:
    """On every route needing a caller: a content key, and an admin key of the owner with
    every scope but the route's (all of them, where the route names none), are refused."""
    a = world.a
    creator = a.users["owner"]
    scopes = [scope for scope in Scope if scope != ROUTE_SCOPE.get(op.key)]
    keys = {
        "content": a.keys["content"],
        "admin without the scope": plain_key(
            ApiKeyFactory.create(creator=creator, kind=KeyKind.admin, scopes=scopes)
        ),
    }
    warm(world, keys.values())
    problems = []

    for kind, key in keys.items():
        objects, _target = world.fresh(a)
        before = world.snapshot()
        response = world.call(op, objects, headers=key_header(key))
        if response.status_code != 403 or response.json()["code"] != "api_key_not_allowed":
            problems.append(f"{kind}: {show(response)}")
        elif world.snapshot() != before:
            problems.append(f"{kind}: refused, but the database changed")

    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("op", SCOPED, ids=str)
def test_an_admin_key_works_on_the_routes_its_scope_names(world: World, op: Operation) -> None:
    """Not vacuous: the owner's key holding only the route's scope gets in."""
    key = plain_key(
        ApiKeyFactory.create(
            creator=world.a.users["owner"], kind=KeyKind.admin, scopes=[ROUTE_SCOPE[op.key]]
        )
    )
    objects, _target = world.fresh(world.a)

    response = world.call(op, objects, headers=key_header(key))

    assert response.is_success, show(response)
