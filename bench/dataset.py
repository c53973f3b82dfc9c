"""What the requests are made of: blogs, accounts and published posts of the seeded data.

Read once per run from the cached seeded database (before any copy is made), then
shuffled with the run's seed, so every run sends the same requests in the same order.
"""

import random
import uuid
from dataclasses import dataclass
from typing import Any

PROLIFIC_POSTS = 50


@dataclass(frozen=True)
class Account:
    tenant: str
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    username: str
    email: str


@dataclass(frozen=True)
class Dataset:
    """What the requests are made of, read from the seeded database."""

    tenants: list[str]
    published: dict[str, int]
    slugs: list[tuple[str, str]]  # (tenant, slug) of published posts, shuffled
    post_ids: list[tuple[str, uuid.UUID]]  # (tenant, id) of published posts, shuffled
    prolific: list[tuple[Account, int]]  # accounts with >= 50 published posts, and the count
    accounts: list[Account]  # shuffled

    @property
    def login(self) -> Account:
        """The account that logs in, writes, and is read with its posts (hot runs)."""
        return self.prolific[0][0]

    def members(self, tenant: str) -> list[Account]:
        """The accounts of one blog, in the dataset's (shuffled) order."""
        return [account for account in self.accounts if account.tenant == tenant]


def _as_uuid(value: object) -> uuid.UUID:
    # SQLite keeps UUIDs as 32 hex digits, psycopg returns uuid.UUID.
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def build_dataset(connection: Any, seed: int, rng: random.Random) -> Dataset:
    """Read tenants, accounts and published posts (a DB-API connection, owner or file)."""
    cursor = connection.cursor()
    cursor.execute("SELECT id, slug FROM tenants ORDER BY slug")
    prefix = f"seed-{seed}-"
    tenants = {
        _as_uuid(row[0]): str(row[1]) for row in cursor.fetchall() if row[1].startswith(prefix)
    }
    cursor.execute("SELECT tenant_id, id, username, email FROM users")
    accounts = {
        (_as_uuid(t), _as_uuid(u)): Account(
            tenants[_as_uuid(t)], _as_uuid(t), _as_uuid(u), name, mail
        )
        for t, u, name, mail in cursor.fetchall()
        if _as_uuid(t) in tenants
    }
    cursor.execute("SELECT tenant_id, author_id, id, slug FROM posts WHERE status = 'published'")
    published: dict[str, int] = dict.fromkeys(tenants.values(), 0)
    per_author: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    slugs: list[tuple[str, str]] = []
    post_ids: list[tuple[str, uuid.UUID]] = []
    for tenant_id, author_id, post_id, slug in cursor.fetchall():
        tenant = tenants.get(_as_uuid(tenant_id))
        if tenant is None:
            continue
        published[tenant] += 1
        if author_id is not None:
            key = (_as_uuid(tenant_id), _as_uuid(author_id))
            per_author[key] = per_author.get(key, 0) + 1
        slugs.append((tenant, str(slug)))
        post_ids.append((tenant, _as_uuid(post_id)))
    cursor.close()
    # Closest to 50 first (then by name): "a user with 50 posts", the same one every run.
    prolific = sorted(
        ((accounts[key], count) for key, count in per_author.items() if count >= PROLIFIC_POSTS),
        key=lambda item: (item[1], item[0].tenant, item[0].username),
    )
    if not prolific:
        raise SystemExit(f"no seeded user has {PROLIFIC_POSTS} published posts; seed more")
    # Sorted, then shuffled with the run's seed: the same cold order on every run.
    slugs.sort()
    post_ids.sort()
    members = sorted(accounts.values(), key=lambda account: (account.tenant, account.username))
    rng.shuffle(slugs)
    rng.shuffle(post_ids)
    rng.shuffle(members)
    return Dataset(
        tenants=sorted(tenants.values()),
        published=published,
        slugs=slugs,
        post_ids=post_ids,
        prolific=prolific,
        accounts=members,
    )
