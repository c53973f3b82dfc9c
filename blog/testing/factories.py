"""factory-boy factories that always build consistent tenant/user graphs.

A user built for a tenant belongs to that tenant; without one, a new tenant is
made for it. A post belongs to its author's tenant (``PostFactory(author=u)``, or
``PostFactory(author__tenant=t)`` for a new author in ``t``); a comment to its post's
tenant, by a new member of it unless ``author=`` says otherwise; tags are made in the
post's tenant (``PostFactory(tags=["python", "sql"])``). Every factory user can log in
with :data:`DEFAULT_PASSWORD`.
Factories write through the session given to :func:`bind_session` (the
``db`` fixture of :mod:`blog.testing.plugin` does that) and commit, so the API
under test sees their rows. Inside :func:`one_commit` they only flush, and the
rows are committed together at its end: a large graph made at once.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import lru_cache
from typing import Any

import factory
from factory.alchemy import SQLAlchemyModelFactory
from slugify import slugify
from sqlmodel import Session, select

from blog.auth.models import AccountToken, AuthSession, LinkPurpose
from blog.auth.security import PasswordHasher, hash_token, new_refresh_token
from blog.database import utcnow
from blog.keys import service as keys_service
from blog.keys.models import ApiKey, KeyKind, Scope
from blog.media.models import Media, MediaPurpose
from blog.media.storage import media_key
from blog.posts import service as posts_service
from blog.posts.models import Comment, Favorite, Post, PostStatus, PostTag, Tag
from blog.revisions.models import PostAutosave, PostRevision
from blog.tenants.models import Tenant
from blog.users.models import Follow, Role, User
from blog.webhooks.models import (
    ALL_EVENTS,
    DeliveryStatus,
    Event,
    WebhookDelivery,
    WebhookEndpoint,
    new_delivery_id,
)
from blog.webhooks.signing import new_secret

DEFAULT_PASSWORD = "correct-horse-battery"
_TEST_BCRYPT_ROUNDS = 4  # the minimum: fast, still a real bcrypt hash

_session: Session | None = None
_one_commit = False


def bind_session(session: Session | None) -> None:
    """Make every factory write through ``session`` (``None`` unbinds)."""
    global _session
    _session = session


def _current_session() -> Session:
    if _session is None:
        raise RuntimeError("factories need a session: use the `db` fixture or bind_session()")
    return _session


@lru_cache(maxsize=64)
def hash_password(password: str) -> str:
    """A bcrypt hash of ``password``, computed once per password per test run."""
    return PasswordHasher(rounds=_TEST_BCRYPT_ROUNDS).hash(password)


@contextmanager
def one_commit() -> Iterator[None]:
    """Factories inside only flush; what they made is committed when the block ends (not
    if it raises). One transaction for a whole graph instead of one per row: on PostgreSQL
    a factory's commit costs several round trips (the scope, the blog's version, COMMIT)."""
    global _one_commit
    session = _current_session()
    outermost = not _one_commit
    _one_commit = True
    try:
        yield
    finally:
        _one_commit = not outermost
    if outermost:
        session.commit()


def _persist(session: Session) -> None:
    if _one_commit:
        session.flush()
    else:
        session.commit()


class _ModelFactory(SQLAlchemyModelFactory):  # type: ignore[misc]
    class Meta:
        abstract = True
        sqlalchemy_session_factory = _current_session
        sqlalchemy_session_persistence = "commit"

    @classmethod
    def _save(cls, model_class: type[Any], session: Session, args: Any, kwargs: Any) -> Any:
        made = model_class(*args, **kwargs)
        session.add(made)
        _persist(session)
        return made


class TenantFactory(_ModelFactory):
    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"blog-{n}")
    name = factory.Faker("company")
    registration_open = True


class UserFactory(_ModelFactory):
    """``UserFactory(tenant=t, role=Role.admin)``; ``password=`` sets the login password."""

    class Meta:
        model = User
        exclude = ("tenant", "password")

    tenant = factory.SubFactory(TenantFactory)
    tenant_id = factory.SelfAttribute("tenant.id")
    username = factory.Sequence(lambda n: f"user{n}")
    username_key = factory.LazyAttribute(lambda o: o.username.lower())
    email = factory.LazyAttribute(lambda o: f"{o.username.lower()}@example.com")
    name = factory.Faker("name")
    role = Role.author
    is_active = True
    password = DEFAULT_PASSWORD
    hashed_password = factory.LazyAttribute(lambda o: hash_password(o.password))
    # Verified, like most members of a real blog; ``email_verified_at=None`` for a new one.
    email_verified_at = factory.LazyFunction(utcnow)


class TagFactory(_ModelFactory):
    """``TagFactory(tenant=t, name="python")``; an existing tag of that name is reused."""

    class Meta:
        model = Tag
        exclude = ("tenant",)

    tenant = factory.SubFactory(TenantFactory)
    tenant_id = factory.SelfAttribute("tenant.id")
    name = factory.Sequence(lambda n: f"tag{n}")

    @classmethod
    def _create(cls, model_class: type[Tag], *args: Any, **fields: Any) -> Tag:
        existing = (
            _current_session()
            .exec(
                select(Tag).where(Tag.tenant_id == fields["tenant_id"], Tag.name == fields["name"])
            )
            .first()
        )
        if existing is not None:
            return existing
        created: Tag = super()._create(model_class, *args, **fields)
        return created


def _tenant_of(tenant_id: Any) -> Tenant:
    tenant = _current_session().get(Tenant, tenant_id)
    assert tenant is not None  # noqa: S101 - factories only link to rows they can see
    return tenant


class PostFactory(_ModelFactory):
    """A published post by a new author unless told otherwise; ``tags=[...]`` in order."""

    class Meta:
        model = Post
        exclude = ("author",)

    author = factory.SubFactory(UserFactory)
    tenant_id = factory.SelfAttribute("author.tenant_id")
    author_id = factory.SelfAttribute("author.id")
    title = factory.Faker("sentence", nb_words=5)
    slug = factory.LazyAttributeSequence(lambda o, n: f"{slugify(o.title)[:80] or 'post'}-{n}")
    description = factory.Faker("sentence")
    body = factory.Faker("paragraph")
    status = PostStatus.published
    # Published now; a scheduled post tomorrow (its job is not written: run it with
    # blog.posts.publishing.publish_due, or schedule through the API).
    published_at = factory.LazyAttribute(
        lambda o: {
            PostStatus.published: utcnow(),
            PostStatus.scheduled: utcnow() + timedelta(days=1),
        }.get(o.status)
    )

    @factory.post_generation  # type: ignore[untyped-decorator]
    def tags(post: Post, create: bool, names: list[str] | None, **_: Any) -> None:  # noqa: N805
        if not create or not names:
            return
        tenant = _tenant_of(post.tenant_id)
        session = _current_session()
        post.search_tags = " ".join(names)  # what search reads of the tags, as the service writes
        session.add(post)
        for position, name in enumerate(names):
            tag = TagFactory.create(tenant=tenant, name=name)
            session.add(
                PostTag(tenant_id=post.tenant_id, post_id=post.id, tag_id=tag.id, position=position)
            )
        _persist(session)


class CommentFactory(_ModelFactory):
    """A comment on ``post`` (a new published post unless given) by a member of its tenant."""

    class Meta:
        model = Comment
        exclude = ("post", "author", "post_tenant")

    post = factory.SubFactory(PostFactory)
    post_tenant = factory.LazyAttribute(lambda o: _tenant_of(o.post.tenant_id))
    author = factory.SubFactory(UserFactory, tenant=factory.SelfAttribute("..post_tenant"))
    tenant_id = factory.SelfAttribute("post.tenant_id")
    post_id = factory.SelfAttribute("post.id")
    # Taken from the post's counter, as the API does, so numbers stay unique per post.
    number = factory.LazyAttribute(
        lambda o: posts_service.next_comment_number(_current_session(), post_id=o.post.id)
    )
    author_id = factory.SelfAttribute("author.id")
    body = factory.Faker("paragraph")


class PostRevisionFactory(_ModelFactory):
    """A revision of ``post`` (a new published post unless given), saved by its author
    unless ``author=`` says otherwise; its content is the post's unless given."""

    class Meta:
        model = PostRevision
        exclude = ("post", "author")

    post = factory.SubFactory(PostFactory)
    author = factory.LazyAttribute(
        lambda o: _current_session().get(User, (o.post.tenant_id, o.post.author_id))
    )
    tenant_id = factory.SelfAttribute("post.tenant_id")
    post_id = factory.SelfAttribute("post.id")
    author_id = factory.LazyAttribute(lambda o: o.author.id if o.author else None)
    title = factory.SelfAttribute("post.title")
    description = factory.SelfAttribute("post.description")
    body = factory.SelfAttribute("post.body")
    tags = factory.LazyFunction(list)


class PostAutosaveFactory(_ModelFactory):
    """A working copy of ``post`` (a new post unless given) by its author unless ``user=``
    says otherwise (a writer of the post's blog)."""

    class Meta:
        model = PostAutosave
        exclude = ("post", "user")

    post = factory.SubFactory(PostFactory)
    user = factory.LazyAttribute(
        lambda o: _current_session().get(User, (o.post.tenant_id, o.post.author_id))
    )
    tenant_id = factory.SelfAttribute("post.tenant_id")
    post_id = factory.SelfAttribute("post.id")
    user_id = factory.SelfAttribute("user.id")
    title = factory.Faker("sentence", nb_words=5)
    body = factory.Faker("paragraph")


class FollowFactory(_ModelFactory):
    """``FollowFactory(follower=a, followed=b)``: both of one blog."""

    class Meta:
        model = Follow
        exclude = ("follower", "followed")

    follower = factory.SubFactory(UserFactory)
    followed = factory.SubFactory(
        UserFactory,
        tenant=factory.LazyAttribute(lambda o: _tenant_of(o.factory_parent.follower.tenant_id)),
    )
    tenant_id = factory.SelfAttribute("follower.tenant_id")
    follower_id = factory.SelfAttribute("follower.id")
    followed_id = factory.SelfAttribute("followed.id")


class FavoriteFactory(_ModelFactory):
    """``FavoriteFactory(post=p, user=u)``; by a new member of the post's blog by default."""

    class Meta:
        model = Favorite
        exclude = ("post", "user", "post_tenant")

    post = factory.SubFactory(PostFactory)
    post_tenant = factory.LazyAttribute(lambda o: _tenant_of(o.post.tenant_id))
    user = factory.SubFactory(UserFactory, tenant=factory.SelfAttribute("..post_tenant"))
    tenant_id = factory.SelfAttribute("post.tenant_id")
    post_id = factory.SelfAttribute("post.id")
    user_id = factory.SelfAttribute("user.id")


class AuthSessionFactory(_ModelFactory):
    """A login of ``user`` (a new member unless given), as a password login makes it."""

    class Meta:
        model = AuthSession
        exclude = ("user",)

    user = factory.SubFactory(UserFactory)
    tenant_id = factory.SelfAttribute("user.tenant_id")
    user_id = factory.SelfAttribute("user.id")
    user_agent = "factory-boy"


class AccountTokenFactory(_ModelFactory):
    """A mailed link's row: ``AccountTokenFactory(user=u, token="…")`` stores the hash of
    the ``token`` given, which the test then presents (``purpose=``, ``lifetime=`` too)."""

    class Meta:
        model = AccountToken
        exclude = ("user", "token", "lifetime")

    user = factory.SubFactory(UserFactory)
    token = factory.LazyFunction(new_refresh_token)
    lifetime = timedelta(minutes=30)
    tenant_id = factory.SelfAttribute("user.tenant_id")
    user_id = factory.SelfAttribute("user.id")
    purpose = LinkPurpose.reset_password
    email = factory.SelfAttribute("user.email")
    token_hash = factory.LazyAttribute(lambda o: hash_token(o.token))
    expires_at = factory.LazyAttribute(lambda o: utcnow() + o.lifetime)


class WebhookEndpointFactory(_ModelFactory):
    """An endpoint of ``tenant`` (a new blog unless given) for every event, on a public
    address that nothing answers at; ``url=`` for a real receiver."""

    class Meta:
        model = WebhookEndpoint
        exclude = ("tenant",)

    tenant = factory.SubFactory(TenantFactory)
    tenant_id = factory.SelfAttribute("tenant.id")
    url = factory.Sequence(lambda n: f"https://203.0.113.{n % 250 + 1}/hooks/{n}")
    description = factory.Faker("sentence", nb_words=3)
    events = factory.LazyFunction(lambda: [ALL_EVENTS])
    secret = factory.LazyFunction(new_secret)
    is_active = True


class WebhookDeliveryFactory(_ModelFactory):
    """A delivery to ``endpoint`` (a new one unless given), delivered at the first attempt
    unless ``status=`` says otherwise."""

    class Meta:
        model = WebhookDelivery
        exclude = ("endpoint",)

    endpoint = factory.SubFactory(WebhookEndpointFactory)
    tenant_id = factory.SelfAttribute("endpoint.tenant_id")
    endpoint_id = factory.SelfAttribute("endpoint.id")
    id = factory.LazyFunction(new_delivery_id)
    event = Event.post_published.value
    payload = factory.LazyAttribute(
        lambda o: {"type": o.event, "timestamp": utcnow().isoformat(), "data": {}}
    )
    status = DeliveryStatus.delivered
    attempts = 1
    last_status_code = factory.LazyAttribute(
        lambda o: 200 if o.status == DeliveryStatus.delivered else None
    )
    last_attempt_at = factory.LazyFunction(utcnow)
    delivered_at = factory.LazyAttribute(
        lambda o: o.last_attempt_at if o.status == DeliveryStatus.delivered else None
    )


class ApiKeyFactory(_ModelFactory):
    """An API key: ``ApiKeyFactory(tenant=t)`` a content key;
    ``ApiKeyFactory(creator=admin, kind=KeyKind.admin, scopes=[Scope.posts_read])`` an
    admin key acting as ``creator``. The key to present is ``plain_key(made)`` (only its
    hash is stored, as the API stores it)."""

    class Meta:
        model = ApiKey
        exclude = ("tenant", "creator")

    creator = None
    # The creator's blog; a new one for a key made by nobody, unless ``tenant=`` says.
    tenant = factory.LazyAttribute(
        lambda o: _tenant_of(o.creator.tenant_id) if o.creator is not None else TenantFactory()
    )
    kind = KeyKind.content
    tenant_id = factory.SelfAttribute("tenant.id")
    created_by = factory.LazyAttribute(lambda o: o.creator.id if o.creator is not None else None)
    name = factory.Sequence(lambda n: f"key {n}")
    scopes = factory.LazyAttribute(
        lambda o: [Scope.posts_read.value] if o.kind == KeyKind.admin else []
    )
    made = factory.LazyAttribute(lambda o: keys_service.new_key(o.kind))
    prefix = factory.LazyAttribute(lambda o: o.made[1])
    secret_hash = factory.LazyAttribute(lambda o: hash_token(o.made[0]))

    @classmethod
    def _create(cls, model_class: type[ApiKey], *args: Any, **fields: Any) -> ApiKey:
        plain, _prefix = fields.pop("made")
        fields["scopes"] = [str(scope) for scope in fields["scopes"]]
        created: ApiKey = super()._create(model_class, *args, **fields)
        _plain_keys[created.id] = plain
        return created


_plain_keys: dict[uuid.UUID, str] = {}


def _media_files(media: Any) -> list[dict[str, Any]]:
    return [
        {
            "name": "original",
            "key": media_key(media.tenant_id, media.sha256, "original", "png"),
            "content_type": "image/png",
            "width": media.width,
            "height": media.height,
            "bytes": media.bytes,
        }
    ]


class MediaFactory(_ModelFactory):
    """A media row uploaded by ``uploader`` (a new author unless given): its metadata
    only, no file in any storage (upload through the API for files)."""

    class Meta:
        model = Media
        exclude = ("uploader",)

    uploader = factory.SubFactory(UserFactory)
    tenant_id = factory.SelfAttribute("uploader.tenant_id")
    uploaded_by = factory.SelfAttribute("uploader.id")
    purpose = MediaPurpose.post
    content_type = "image/png"
    width = 640
    height = 480
    bytes = 1234
    alt = factory.Faker("sentence", nb_words=4)
    sha256 = factory.LazyFunction(lambda: uuid.uuid4().hex * 2)
    files = factory.LazyAttribute(_media_files)


def plain_key(key: ApiKey) -> str:
    """The text of a key ``ApiKeyFactory`` made, to send as ``X-API-Key``."""
    return _plain_keys[key.id]
