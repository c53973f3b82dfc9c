"""Fixed-window rate limits, counted in the database so every worker process shares them.

Each hit is an upsert committed on its own connection, so a request that fails (a
wrong password answers 401 and rolls back) still counts. Keys are hashed: the table
holds no usernames or addresses.
"""

import hashlib
import math
import random
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

from blog.errors import BlogError
from blog.observability.metrics import RATE_LIMIT_REFUSALS

CLEANUP_PROBABILITY = 0.01
KEEP_WINDOWS_SECONDS = 24 * 3600


class RateLimitHit(SQLModel, table=True):
    """Hits of one key in one window. Platform data, not tenant-owned."""

    __tablename__ = "rate_limit_hits"

    key: str = Field(primary_key=True, max_length=64, description="SHA-256 of the limit's key.")
    window_start: int = Field(primary_key=True, description="Unix time the window began.")
    hits: int


class RateLimited(BlogError):
    status_code = 429
    code = "rate_limited"
    detail = "Too many attempts; retry later."

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail or f"Too many attempts; retry in {retry_after} seconds.")
        self.retry_after = retry_after

    def response_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


@dataclass(frozen=True, slots=True)
class Limit:
    name: str  # a fixed word: it labels the limit's refusals in the metrics
    max_hits: int
    window_seconds: int


class RateLimiter:
    """Counts hits per key and window; raises :class:`RateLimited` past the limit."""

    def __init__(self, engine: Engine, *, enabled: bool = True) -> None:
        self._engine = engine
        self.enabled = enabled
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._insert = dialect.insert

    def hit(self, limit: Limit, *key_parts: str) -> None:
        if not self.enabled:
            return
        now = time.time()
        window_start = int(now // limit.window_seconds) * limit.window_seconds
        key = hashlib.sha256("\x1f".join((limit.name, *key_parts)).encode()).hexdigest()
        table = RateLimitHit.__table__  # type: ignore[attr-defined]
        upsert = (
            self._insert(table)
            .values(key=key, window_start=window_start, hits=1)
            .on_conflict_do_update(
                index_elements=["key", "window_start"], set_={"hits": table.c.hits + 1}
            )
            .returning(table.c.hits)
        )
        with self._engine.begin() as connection:
            hits = connection.execute(upsert).scalar_one()
            if random.random() < CLEANUP_PROBABILITY:  # noqa: S311 - not security-relevant
                connection.execute(
                    table.delete().where(table.c.window_start < now - KEEP_WINDOWS_SECONDS)
                )
        if hits > limit.max_hits:
            RATE_LIMIT_REFUSALS.labels(limit.name).inc()
            raise RateLimited(
                retry_after=max(1, math.ceil(window_start + limit.window_seconds - now))
            )


def client_address(request: Request) -> str:
    """The caller's address (behind a proxy, the forwarded one: ``BLOG_FORWARDED_ALLOW_IPS``)."""
    return request.client.host if request.client else "unknown"


async def get_rate_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]
