"""What wrk sends: one :class:`Scenario` per measured kind of request, built from the data.

Cold scenarios never repeat a request (``sequence`` pick, a request list longer than a
run can use up), so no cache keyed by URL or token can serve them; they also count the
``x-cache`` header of every response, which proves it. Tokens are minted with the
servers' own secret key (one login per account would cost minutes of bcrypt).
"""

import itertools
import json
import math
import random
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.dataset import Account, Dataset
from blog.auth.security import TokenCodec
from blog.seeding import SEED_PASSWORD, WORDS

API = "/api/v1/tenants"
PAGE = 20
ARTICLES_PAGE = 10
JSON = "Content-Type: application/json"
# The seeder's words PostgreSQL's English search drops (stop words): a query of them would
# look for one word, or none, instead of two.
_STOP_WORD_TEXT = (
    "about above after again against before being below between both does down during "
    "here more most other same should through under until very while"
)
STOP_WORDS = frozenset(_STOP_WORD_TEXT.split())


@dataclass(frozen=True)
class RequestLine:
    """One request as bench/wrk.lua reads it (tab-separated, one per line)."""

    method: str
    path: str
    body: str = ""
    headers: tuple[str, ...] = ()

    def render(self) -> str:
        fields = [self.method, self.path, self.body, *self.headers]
        if any("\t" in part or "\n" in part for part in fields):
            raise ValueError(f"a request field holds a tab or newline: {fields!r}")
        return "\t".join(fields)


@dataclass(frozen=True)
class Scenario:
    """A kind of request: its lines, how wrk picks among them, what it counts."""

    key: str  # a key of bench.report.TITLES (or "mixed", "warm-up")
    pick: str  # first | sequence | unique | random (see bench/wrk.lua)
    lines: tuple[RequestLine, ...]
    cold: bool = False  # count x-cache hits; every line is used at most once
    route: str = ""  # the route pattern the ceiling app answers it on (hot reads)
    warmup: bool = True  # cursor pages are too few to spend on warming up


def bearer(token: str) -> str:
    return f"Authorization: Bearer {token}"


def conduit_token(token: str) -> str:
    return f"Authorization: Token {token}"


class Builder:
    """Builds every scenario of a run from the seeded data and the servers' token key."""

    def __init__(self, data: Dataset, codec: TokenCodec, seed: int) -> None:
        self.data = data
        self.codec = codec
        self.seed = seed
        self.login = data.login

    def token(self, account: Account) -> str:
        return self.codec.issue(user_id=account.user_id, tenant_id=account.tenant_id, generation=0)

    def tokens(self, accounts: Sequence[Account], count: int) -> Iterable[tuple[Account, str]]:
        """``count`` distinct tokens, cycling through ``accounts`` (each token has its jti)."""
        for number in range(count):
            account = accounts[number % len(accounts)]
            yield account, self.token(account)

    def list_path(self, tenant: str) -> str:
        return f"{API}/{tenant}/posts?limit={PAGE}"

    def articles_path(self, tenant: str) -> str:
        return f"/conduit/{tenant}/api/articles?limit={ARTICLES_PAGE}"

    def hot(self) -> list[Scenario]:
        """The same request again and again: what a response cache is for."""
        login, quote = self.login, urllib.parse.quote
        slug = next(slug for tenant, slug in self.data.slugs if tenant == login.tenant)
        pages = [
            ("hot-list", self.list_path(login.tenant), (), f"{API}/{{tenant}}/posts"),
            (
                "hot-by-slug",
                f"{API}/{login.tenant}/posts/by-slug/{quote(slug)}",
                (),
                f"{API}/{{tenant}}/posts/by-slug/{{slug}}",
            ),
            (
                "hot-with-posts",
                f"{API}/{login.tenant}/users/{login.user_id}/with-posts",
                (),
                f"{API}/{{tenant}}/users/{{user_id}}/with-posts",
            ),
            (
                "hot-me",
                f"{API}/{login.tenant}/users/me",
                (bearer(self.token(login)),),
                f"{API}/{{tenant}}/users/me",
            ),
            (
                "hot-articles",
                self.articles_path(login.tenant),
                (),
                "/conduit/{tenant}/api/articles",
            ),
        ]
        return [
            Scenario(key, "first", (RequestLine("GET", path, "", headers),), route=route)
            for key, path, headers, route in pages
        ]

    def list_deep(self) -> Scenario:
        """Every page offset of every blog, shuffled: uniform depth, each URL once."""
        rng = random.Random(self.seed)  # noqa: S311 - the same URLs every run
        pages = [
            RequestLine("GET", f"{API}/{tenant}/posts?limit={PAGE}&offset={offset}")
            for tenant in self.data.tenants
            for offset in range(max(1, self.data.published[tenant] - PAGE + 1))
        ]
        rng.shuffle(pages)
        return Scenario("list-deep", "sequence", tuple(pages), cold=True)

    def cursor(self, cursors: Sequence[tuple[str, str]]) -> Scenario:
        """One page after each cursor collected by :func:`collect_cursors`."""
        quote = urllib.parse.quote
        lines = tuple(
            RequestLine("GET", f"{API}/{tenant}/posts?limit={PAGE}&after={quote(cursor)}")
            for tenant, cursor in cursors
        )
        return Scenario("cursor", "sequence", lines, cold=True, warmup=False)

    def signed_in_list(self, count: int) -> Scenario:
        """The hot list's very URL, with a different caller (token) on every request."""
        members = self.data.members(self.login.tenant)
        path = self.list_path(self.login.tenant)
        lines = tuple(
            RequestLine("GET", path, "", (bearer(token),))
            for _, token in self.tokens(members, count)
        )
        return Scenario("signed-in-list", "sequence", lines, cold=True)

    def signed_in_articles(self, count: int) -> Scenario:
        """The RealWorld article list, with a different caller on every request."""
        members = self.data.members(self.login.tenant)
        path = self.articles_path(self.login.tenant)
        lines = tuple(
            RequestLine("GET", path, "", (conduit_token(token),))
            for _, token in self.tokens(members, count)
        )
        return Scenario("signed-in-articles", "sequence", lines, cold=True)

    def me_cold(self, count: int) -> Scenario:
        """``/users/me`` of every account in turn, a new token each time."""
        lines = tuple(
            RequestLine("GET", f"{API}/{account.tenant}/users/me", "", (bearer(token),))
            for account, token in self.tokens(self.data.accounts, count)
        )
        return Scenario("me-cold", "sequence", lines, cold=True)

    def by_slug_cold(self) -> Scenario:
        quote = urllib.parse.quote
        lines = tuple(
            RequestLine("GET", f"{API}/{tenant}/posts/by-slug/{quote(slug)}")
            for tenant, slug in self.data.slugs
        )
        return Scenario("by-slug-cold", "sequence", lines, cold=True)

    def with_posts_cold(self) -> Scenario:
        lines = tuple(
            RequestLine("GET", f"{API}/{account.tenant}/users/{account.user_id}/with-posts")
            for account, _count in self.data.prolific
        )
        return Scenario("with-posts-cold", "sequence", lines, cold=True)

    def search_cold(self) -> Scenario:
        """A reader searching for two of the seeder's words: every pair once, shuffled,
        over the blogs in turn, so no URL repeats."""
        rng = random.Random(self.seed)  # noqa: S311 - the same URLs every run
        words = sorted(word for word in set(WORDS) if word not in STOP_WORDS)
        pairs = [" ".join(pair) for pair in itertools.combinations(words, 2)]
        rng.shuffle(pairs)
        tenants = self.data.tenants
        lines = tuple(
            RequestLine(
                "GET",
                f"{API}/{tenants[number % len(tenants)]}/posts?"
                + urllib.parse.urlencode({"q": query, "limit": PAGE}),
            )
            for number, query in enumerate(pairs)
        )
        return Scenario("search-cold", "sequence", lines, cold=True)

    def login_flood(self) -> Scenario:
        form = urllib.parse.urlencode({"username": self.login.email, "password": SEED_PASSWORD})
        line = RequestLine(
            "POST",
            f"{API}/{self.login.tenant}/auth/token",
            form,
            ("Content-Type: application/x-www-form-urlencoded",),
        )
        return Scenario("login", "first", (line,))

    def create_post(self) -> Scenario:
        """Drafts by the login account; ``@N@`` makes every title (and slug) new."""
        post = json.dumps(
            {
                "title": "Benchmark post @N@",
                "description": "Written by the benchmark (python -m bench)",
                "body": "## Load\n\nA post written under load, tagged like the seeded ones.",
                "tags": ["bench", "load"],
                "status": "draft",
            }
        )
        auth = bearer(self.token(self.login))
        line = RequestLine("POST", f"{API}/{self.login.tenant}/posts", post, (auth, JSON))
        return Scenario("create-post", "unique", (line,))

    def create_comment(self, count: int) -> Scenario:
        """A comment by a member of the post's blog, a different post and token each time."""
        members = {tenant: self.data.members(tenant) for tenant in self.data.tenants}
        body = json.dumps({"body": "A comment written under load (@N@)."})
        lines = []
        for number in range(count):
            tenant, post_id = self.data.post_ids[number % len(self.data.post_ids)]
            author = members[tenant][number % len(members[tenant])]
            path = f"{API}/{tenant}/posts/{post_id}/comments"
            lines.append(RequestLine("POST", path, body, (bearer(self.token(author)), JSON)))
        return Scenario("create-comment", "unique", tuple(lines))

    def mixed(self, scenarios: Sequence[Scenario], per_scenario: int = 5_000) -> Scenario:
        """Cold and signed-in reads together, at random: the long memory run."""
        lines = tuple(line for s in scenarios for line in s.lines[:per_scenario])
        return Scenario("mixed", "random", lines)


# -- cursor walks --------------------------------------------------------------------------


@dataclass(frozen=True)
class Walk:
    """Follow ``next`` for ``pages`` pages from the page at ``offset`` of ``tenant``."""

    tenant: str
    offset: int
    pages: int


def plan_walks(published: Mapping[str, int], budget: int, starts_per_blog: int) -> list[Walk]:
    """Walks spending at most about ``budget`` requests, spread evenly over the blogs.

    A blog the budget cannot walk whole is walked from ``starts_per_blog`` evenly spaced
    depths, in segments that do not overlap. One it can is walked whole, several times
    when the budget allows, each pass shifted by part of a page: the pages then end on
    other posts, so every pass meets cursors the others did not.
    """
    blogs = sorted(tenant for tenant, count in published.items() if count > PAGE)
    if not blogs or budget < 1:
        return []
    per_blog = budget // len(blogs)
    walks = []
    for tenant in blogs:
        pages = math.ceil(published[tenant] / PAGE)
        if per_blog >= pages:
            passes = min(PAGE, per_blog // pages)
            walks += [Walk(tenant, n * PAGE // passes, pages) for n in range(passes)]
        else:
            starts = max(1, min(starts_per_blog, per_blog))
            span = pages // starts
            length = min(span, per_blog // starts)
            walks += [Walk(tenant, n * span * PAGE, length) for n in range(starts)]
    return walks


class CursorsUnsupported(Exception):
    """The server's list response has no ``next`` key."""


Fetch = Callable[[str], Mapping[str, Any]]


def walk(fetch: Fetch, plan: Walk) -> list[str]:
    """The cursors met along one walk (``fetch``: path -> the list response's JSON)."""
    cursors: list[str] = []
    path = f"{API}/{plan.tenant}/posts?limit={PAGE}&offset={plan.offset}"
    for _ in range(plan.pages):
        page = fetch(path)
        if "next" not in page:
            raise CursorsUnsupported('no "next" in the list response')
        cursor = page["next"]
        if cursor is None:
            break
        cursors.append(str(cursor))
        path = f"{API}/{plan.tenant}/posts?limit={PAGE}&after={urllib.parse.quote(cursor)}"
    return cursors


def collect_cursors(fetch: Fetch, plans: Sequence[Walk], threads: int) -> list[tuple[str, str]]:
    """Distinct (tenant, cursor) pairs of every walk, in the walks' order."""
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        found = list(pool.map(lambda plan: walk(fetch, plan), plans))
    distinct = dict.fromkeys(
        (plan.tenant, cursor)
        for plan, cursors in zip(plans, found, strict=True)
        for cursor in cursors
    )
    return list(distinct)
