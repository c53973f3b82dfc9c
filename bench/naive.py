"""The naive peer: the post list as a typical developer would write it with SQLModel.

list-deep's target ("4x a straightforward implementation") needs that implementation
measured beside the real server, in the same run, on the same database: this is it.
Deliberately plain: its own table classes over the real tables, a session per request
from a dependency, sync routes, a count, an offset page with ``selectinload``, pydantic
response models validated by FastAPI. No cache, no hand-written SQL.

    BLOG_DATABASE_URL=sqlite:///blog.db python -m bench.naive --port 8200

It reads ``BLOG_DATABASE_URL``, as ``blog serve`` does, so the benchmark hands both the
same database (on PostgreSQL, the same unprivileged role). Its classes live in a registry
of their own, so it can be imported beside ``blog`` (the tests compare the two).
"""

import argparse
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import registry, selectinload
from sqlmodel import Field, Relationship, Session, SQLModel, col, func, select

from bench.servers import serve_like_blog

API = "/api/v1/tenants/{tenant}"


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """The app stores UTC; SQLite keeps no zone, so put it back (PostgreSQL has one)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002
    ) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


class Base(SQLModel, registry=registry()):
    """Our own registry: the real app's models map the same table names."""


class Tenant(Base, table=True):
    __tablename__ = "tenants"

    id: uuid.UUID = Field(primary_key=True)
    slug: str
    name: str


class User(Base, table=True):
    __tablename__ = "users"

    tenant_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = Field(primary_key=True)
    username: str
    name: str | None = None
    bio: str | None = None
    image: str | None = None
    role: str
    created_at: datetime = Field(sa_type=UTCDateTime)


class Tag(Base, table=True):
    __tablename__ = "tags"

    tenant_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = Field(primary_key=True)
    name: str


class PostTag(Base, table=True):
    __tablename__ = "post_tags"
    __table_args__ = (
        sa.ForeignKeyConstraint(["tenant_id", "post_id"], ["posts.tenant_id", "posts.id"]),
        sa.ForeignKeyConstraint(["tenant_id", "tag_id"], ["tags.tenant_id", "tags.id"]),
    )

    tenant_id: uuid.UUID = Field(primary_key=True)
    post_id: uuid.UUID = Field(primary_key=True)
    tag_id: uuid.UUID = Field(primary_key=True)
    position: int


class Favorite(Base, table=True):
    __tablename__ = "favorites"

    tenant_id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID = Field(primary_key=True)
    post_id: uuid.UUID = Field(primary_key=True)


class Post(Base, table=True):
    __tablename__ = "posts"
    __table_args__ = (
        sa.ForeignKeyConstraint(["tenant_id", "author_id"], ["users.tenant_id", "users.id"]),
    )

    tenant_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = Field(primary_key=True)
    author_id: uuid.UUID | None = None
    title: str
    slug: str
    description: str
    status: str
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)

    # Read-only here: the composite keys share tenant_id, which nothing here writes.
    author: User | None = Relationship(sa_relationship_kwargs={"viewonly": True})
    tags: list[Tag] = Relationship(
        link_model=PostTag,
        sa_relationship_kwargs={"viewonly": True, "order_by": "PostTag.position"},
    )


class AuthorRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    name: str | None
    bio: str | None
    image: str | None
    role: str
    created_at: datetime


class PostRead(BaseModel):
    id: uuid.UUID
    slug: str
    title: str
    description: str
    status: str
    tags: list[str]
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime
    author: AuthorRead | None
    favorites_count: int
    snippet: str | None = None  # the real list's, for a search only (this peer has none)


class PostPage(BaseModel):
    items: list[PostRead]
    total: int
    limit: int
    offset: int


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_tenant(tenant: str, session: SessionDep) -> Tenant:
    found = session.exec(select(Tenant).where(Tenant.slug == tenant)).first()
    if found is None:
        raise HTTPException(status_code=404, detail="Blog not found")
    if session.get_bind().dialect.name == "postgresql":
        # Row-level security reads this setting; `true`: for this transaction only.
        session.connection().execute(
            sa.text("SELECT set_config('app.tenant_id', :tid, true)"), {"tid": str(found.id)}
        )
    return found


TenantDep = Annotated[Tenant, Depends(get_tenant)]


router = APIRouter()


@router.get(f"{API}/posts", response_model=PostPage)
def list_posts(
    tenant: TenantDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PostPage:
    """Published posts, newest first."""
    published = (col(Post.tenant_id) == tenant.id) & (col(Post.status) == "published")
    total = session.exec(select(func.count()).select_from(Post).where(published)).one()
    posts = session.exec(
        select(Post)
        .where(published)
        .order_by(col(Post.published_at).desc(), col(Post.id).desc())
        .offset(offset)
        .limit(limit)
        .options(selectinload(Post.author), selectinload(Post.tags))  # type: ignore[arg-type]
    ).all()
    favorites = session.exec(
        select(Favorite.post_id, func.count())
        .where(Favorite.tenant_id == tenant.id, col(Favorite.post_id).in_([p.id for p in posts]))
        .group_by(col(Favorite.post_id))
    ).all()
    counts = dict(favorites)
    items = [
        PostRead(
            id=post.id,
            slug=post.slug,
            title=post.title,
            description=post.description,
            status=post.status,
            tags=[tag.name for tag in post.tags],
            published_at=post.published_at,
            created_at=post.created_at,
            updated_at=post.updated_at,
            author=AuthorRead.model_validate(post.author) if post.author else None,
            favorites_count=counts.get(post.id, 0),
        )
        for post in posts
    ]
    return PostPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/health/ready")
def ready() -> dict[str, str]:
    return {"status": "ok"}


def create_engine(url: str) -> Engine:
    """A plain engine; ``postgresql://`` URLs get the psycopg 3 driver the project installs."""
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        return sa.create_engine(url, connect_args={"check_same_thread": False})
    return sa.create_engine(url)


def create_app(engine: Engine | None = None) -> FastAPI:
    """The app, on ``engine`` or on ``$BLOG_DATABASE_URL``."""
    app = FastAPI(title="naive blog")
    app.state.engine = engine or create_engine(os.environ["BLOG_DATABASE_URL"])
    app.include_router(router)
    return app


def main() -> None:
    """Serve under the uvicorn settings of ``blog serve``."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8200)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    serve_like_blog(
        "bench.naive:create_app", host=args.host, port=args.port, log_level=args.log_level
    )


if __name__ == "__main__":
    main()
