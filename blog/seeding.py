"""Bulk fake data for demos and benchmarks: fast, deterministic, safe to rerun.

Rows are generated as plain dicts by column name, in batches, and written with the
driver's ``executemany`` (no ORM objects), so memory stays flat whatever the size. The
columns come from the models (:class:`blog.bulk.BulkInsert`): a column a model gains is
written with its default, or the seeder is told to give it. Every
seeded user shares one password, hashed once (:data:`SEED_PASSWORD`). Each tenant
is written in one transaction: an interrupted run leaves whole tenants only, and a
rerun skips the tenants that exist (their slugs derive from ``--seed``).
"""

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from blog.auth.security import PasswordHasher
from blog.bulk import BulkInsert, table_of
from blog.cache.versions import TenantVersion, fresh_version
from blog.database import utcnow
from blog.posts.models import Comment, Post, PostTag, Tag
from blog.tenants.models import Tenant
from blog.users.models import User

SEED_PASSWORD = "seeded-password"  # noqa: S105 - documented: every seeded account uses it
BATCH_SIZE = 5_000
PUBLISHED_SHARE = 0.9
HISTORY = timedelta(days=730)
POOL_SIZE = 512

Row = dict[str, Any]  # one row to write, by column name

_WORD_TEXT = (
    "able about above across after again against almost along already also always among "
    "answer around away back base became become before began begin being below best "
    "better between big body book both bring build built call came carry case cause "
    "center change city clear close cloud code come common could country course cover "
    "create current data deep design detail develop different direction does done door "
    "down draw during early earth easy energy enough even every example face fact family "
    "fast field figure fire first follow food force form found free friend front full "
    "game garden give good great green ground group grow half hand happen hard head hear "
    "heart heavy help here high hold home hope horse house idea important inside island "
    "keep kind know land large last late learn least leave letter life light line list "
    "little live long look machine make many mark matter measure might mind minute model "
    "moment money more morning most mountain move music name nature near need never next "
    "night notice number object ocean offer often open order other paper part pass "
    "pattern people perhaps picture piece place plan plant point power press problem "
    "produce product program python question quick quiet reach read ready real reason "
    "record remember rest result river road rock room round rule same science season "
    "second section seem sense serve several shape share short should show side simple "
    "since size slow small snow social sound space special speed spring stand start "
    "state step still stone story street strong study sudden summer system table take "
    "talk teach test thing think though thought through time together took tool total "
    "toward town travel tree true turn under until upon usual value very voice wait walk "
    "warm watch water wave weather week weight while white whole wide wind winter wonder "
    "wood word work world write year young "
)
WORDS = tuple(_WORD_TEXT.split())


@dataclass(frozen=True, slots=True)
class SeedPlan:
    tenants: int
    users_per_tenant: int
    posts_per_user: int
    comments_per_post: int = 0
    tags: int = 20
    seed: int = 0
    batch_size: int = BATCH_SIZE

    def slug(self, index: int) -> str:
        return f"seed-{self.seed}-{index}"


@dataclass
class SeedReport:
    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


class SeedProgress:
    """Receives progress; the CLI draws bars, the benchmark times tables."""

    def start(self, table: str, total: int | None) -> None:
        """A table of ``total`` rows (None: not known in advance) begins."""

    def advance(self, table: str, rows: int) -> None:
        """``rows`` more rows of ``table`` were written."""


# How values travel to each driver: SQLite keeps UUIDs as 32 hex digits and times as
# naive UTC text, exactly as SQLAlchemy's types write them; psycopg takes them as they are.
# Each id and time is encoded once, where it is made.
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


@dataclass(frozen=True, slots=True)
class _Encoding:
    id: Callable[[uuid.UUID], Any]
    time: Callable[[datetime], Any]


_NATIVE = _Encoding(id=lambda value: value, time=lambda value: value)
_SQLITE = _Encoding(
    id=lambda value: value.hex,
    time=lambda value: value.astimezone(UTC).strftime(_SQLITE_TIME),
)


class _Writer:
    """Inserts rows (dicts by column) into one model's table with the driver's
    executemany, in batches; the columns come from the model (:class:`BulkInsert`)."""

    def __init__(self, connection: sa.Connection, progress: SeedProgress, batch_size: int) -> None:
        self.connection = connection
        self.progress = progress
        self.batch_size = batch_size
        self.sqlite = connection.dialect.name == "sqlite"
        self.encoding = _SQLITE if self.sqlite else _NATIVE
        self.inserts: dict[type[SQLModel], tuple[BulkInsert, str]] = {}

    def insert(self, model: type[SQLModel], rows: Iterator[Row]) -> int:
        written = 0
        while batch := list(islice(rows, self.batch_size)):
            if model not in self.inserts:
                bulk = BulkInsert.of(model, batch[0])
                self.inserts[model] = bulk, bulk.statement("?" if self.sqlite else "%s")
            bulk, statement = self.inserts[model]
            self.connection.exec_driver_sql(  # raw-sql: bulk seeding, scoped below
                statement, list(map(bulk.values, batch))
            )
            written += len(batch)
            self.progress.advance(table_of(model).name, len(batch))
        return written


def _time_ordered_id(rng: random.Random, at: datetime) -> uuid.UUID:
    """A UUIDv7 from a timestamp and the seeded generator: deterministic, index-friendly."""
    millis = int(at.timestamp() * 1000) & ((1 << 48) - 1)
    value = millis << 80 | rng.getrandbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return uuid.UUID(int=value)


def _sentence(rng: random.Random, low: int, high: int) -> str:
    words = rng.choices(WORDS, k=rng.randint(low, high))
    return " ".join(words).capitalize()


def _markdown_body(rng: random.Random) -> str:
    paragraphs = [
        " ".join(_sentence(rng, 6, 14) + "." for _ in range(rng.randint(2, 5)))
        for _ in range(rng.randint(2, 4))
    ]
    heading = _sentence(rng, 2, 5)
    points = "\n".join(f"- {_sentence(rng, 2, 6)}" for _ in range(rng.randint(2, 4)))
    return f"## {heading}\n\n" + "\n\n".join(paragraphs) + f"\n\n{points}\n"


class _TenantSeeder:
    def __init__(
        self,
        plan: SeedPlan,
        index: int,
        hashed_password: str,
        now: datetime,
        encoding: _Encoding,
    ) -> None:
        self.plan = plan
        self.slug = plan.slug(index)
        self.rng = random.Random(f"{plan.seed}:{index}")  # noqa: S311 - fake data, not secrets
        self.now = now
        self.encode = encoding
        self.tenant_uuid = _time_ordered_id(self.rng, now)
        self.tenant_id = encoding.id(self.tenant_uuid)
        self.hashed_password = hashed_password
        self.user_ids: list[Any] = []
        self.tags_made: list[tuple[Any, str]] = []  # (id, name)
        self.published: list[tuple[Any, datetime]] = []
        # Pools make each row cheap to build; the generator picks from them.
        self.titles = [_sentence(self.rng, 3, 8) for _ in range(POOL_SIZE)]
        self.bodies = [_markdown_body(self.rng) for _ in range(POOL_SIZE)]
        self.remarks = [_sentence(self.rng, 4, 20) + "." for _ in range(POOL_SIZE)]

    def tenant_row(self) -> Row:
        return {
            "id": self.tenant_id,
            "slug": self.slug,
            "name": f"Seeded blog {self.slug}",
            "registration_open": True,
            "created_at": self.encode.time(self.now),
        }

    def users(self) -> Iterator[Row]:
        for number in range(self.plan.users_per_tenant):
            joined = self.now - HISTORY * self.rng.random()
            user_id = self.encode.id(_time_ordered_id(self.rng, joined))
            at = self.encode.time(joined)
            self.user_ids.append(user_id)
            first, last = self.rng.choice(WORDS), self.rng.choice(WORDS)
            username = f"{first}{number}"
            role = "owner" if number == 0 else ("editor" if number % 10 == 1 else "author")
            yield {
                "tenant_id": self.tenant_id,
                "id": user_id,
                "email": f"{username}@{self.slug}.example",
                "username": username,
                "username_key": username,
                "name": f"{first.title()} {last.title()}",
                "role": role,
                "is_active": True,
                "hashed_password": self.hashed_password,
                "email_verified_at": at,
                "created_at": at,
                "updated_at": at,
            }

    def tags(self) -> Iterator[Row]:
        names = self.rng.sample(WORDS, k=min(self.plan.tags, len(WORDS)))
        for name in names:
            tag_id = self.encode.id(_time_ordered_id(self.rng, self.now))
            self.tags_made.append((tag_id, name))
            yield {"tenant_id": self.tenant_id, "id": tag_id, "name": name}

    def posts_and_links(self, links: list[Row]) -> Iterator[Row]:
        """Posts; each post's tag links are appended to ``links`` as it is made, and its
        tag names (in position order) are its ``search_tags``, as the service writes them."""
        rng, pool, encode = self.rng, range(POOL_SIZE), self.encode
        keep_for_comments = self.plan.comments_per_post > 0
        number = 0
        for author_id in self.user_ids:
            for _ in range(self.plan.posts_per_user):
                published_at = self.now - HISTORY * rng.random()
                post_id = encode.id(_time_ordered_id(rng, published_at))
                at = encode.time(published_at)
                title = self.titles[rng.choice(pool)]
                slug = f"{title.lower().replace(' ', '-')}-{number}"
                status = "published" if rng.random() < PUBLISHED_SHARE else "draft"
                shown = at if status == "published" else None
                if keep_for_comments:
                    self.published.append((post_id, published_at))
                names: list[str] = []
                if self.tags_made:
                    count = rng.randint(0, min(4, len(self.tags_made)))
                    for position, (tag_id, name) in enumerate(rng.sample(self.tags_made, count)):
                        names.append(name)
                        links.append(
                            {
                                "tenant_id": self.tenant_id,
                                "post_id": post_id,
                                "tag_id": tag_id,
                                "position": position,
                            }
                        )
                number += 1
                yield {
                    "tenant_id": self.tenant_id,
                    "id": post_id,
                    "author_id": author_id,
                    "title": title,
                    "slug": slug[:100],
                    "description": self.remarks[rng.choice(pool)],
                    "body": self.bodies[rng.choice(pool)],
                    "search_tags": " ".join(names),
                    "status": status,
                    "published_at": shown,
                    "created_at": at,
                    "updated_at": at,
                    "last_comment_number": self.plan.comments_per_post,
                }

    def comments(self) -> Iterator[Row]:
        """Comments on the posts made since the last call."""
        rng, encode = self.rng, self.encode
        for post_id, published_at in self.published:
            times = sorted(
                published_at + timedelta(hours=rng.random() * 72)
                for _ in range(self.plan.comments_per_post)
            )
            for number, made in enumerate(times, start=1):
                at = encode.time(made)
                yield {
                    "tenant_id": self.tenant_id,
                    "id": encode.id(_time_ordered_id(rng, made)),
                    "post_id": post_id,
                    "number": number,
                    "author_id": rng.choice(self.user_ids),
                    "body": self.remarks[rng.randrange(POOL_SIZE)],
                    "created_at": at,
                    "updated_at": at,
                }
        self.published.clear()


def _existing_slugs(engine: Engine, slugs: list[str]) -> set[str]:
    tenants = sa.table("tenants", sa.column("slug"))
    with engine.connect() as connection:  # raw-sql: tenants are platform rows, not scoped
        found = connection.execute(
            sa.select(tenants.c.slug).where(tenants.c.slug.in_(slugs))
        ).scalars()
        return set(found)


def _bind(connection: sa.Connection, tenant_id: uuid.UUID) -> None:
    """Row-level security: this transaction writes for this tenant only."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT set_config('app.tenant_id', :tenant, true)"),  # raw-sql: RLS
            {"tenant": str(tenant_id)},
        )


def seed(
    engine: Engine,
    plan: SeedPlan,
    *,
    hasher: PasswordHasher,
    progress: SeedProgress | None = None,
    now: datetime | None = None,
    on_tenant: Callable[[str, bool], None] | None = None,
) -> SeedReport:
    """Create the plan's tenants that do not exist yet, each in one transaction."""
    progress = progress or SeedProgress()
    now = now or datetime(2026, 1, 1, tzinfo=UTC)
    slugs = [plan.slug(index) for index in range(plan.tenants)]
    existing = _existing_slugs(engine, slugs)
    hashed_password = hasher.hash(SEED_PASSWORD)  # once, shared by every seeded account
    report = SeedReport()
    for index, slug in enumerate(slugs):
        if slug in existing:
            report.skipped.append(slug)
            if on_tenant:
                on_tenant(slug, False)
            continue
        with engine.begin() as connection:  # raw-sql: one transaction per tenant
            writer = _Writer(connection, progress, plan.batch_size)
            tenant = _TenantSeeder(plan, index, hashed_password, now, writer.encoding)
            writer.insert(Tenant, iter([tenant.tenant_row()]))
            _bind(connection, tenant.tenant_uuid)
            # A new blog's content version, as every write through a session would set it.
            writer.insert(
                TenantVersion,
                iter(
                    [
                        {
                            "tenant_id": tenant.tenant_id,
                            "version": fresh_version(),
                            "changed_at": writer.encoding.time(utcnow()),
                        }
                    ]
                ),
            )
            progress.start("users", plan.users_per_tenant)
            report.rows["users"] = report.rows.get("users", 0) + writer.insert(User, tenant.users())
            progress.start("tags", plan.tags)
            report.rows["tags"] = report.rows.get("tags", 0) + writer.insert(Tag, tenant.tags())
            _write_posts(writer, tenant, plan, progress, report)
        report.created.append(slug)
        if on_tenant:
            on_tenant(slug, True)
    return report


def _write_posts(
    writer: _Writer,
    tenant: _TenantSeeder,
    plan: SeedPlan,
    progress: SeedProgress,
    report: SeedReport,
) -> None:
    total_posts = plan.users_per_tenant * plan.posts_per_user
    progress.start("posts", total_posts)
    progress.start("post_tags", None)
    progress.start("comments", total_posts * plan.comments_per_post)
    links: list[Row] = []
    posts = tenant.posts_and_links(links)
    while batch := list(islice(posts, plan.batch_size)):
        report.rows["posts"] = report.rows.get("posts", 0) + writer.insert(Post, iter(batch))
        report.rows["post_tags"] = report.rows.get("post_tags", 0) + writer.insert(
            PostTag, iter(links)
        )
        links.clear()
        if plan.comments_per_post:
            report.rows["comments"] = report.rows.get("comments", 0) + writer.insert(
                Comment, tenant.comments()
            )
