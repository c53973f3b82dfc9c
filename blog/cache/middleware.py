"""A response cache for reads that stays correct: keyed by each blog's content version.

The middleware reads the blog's current version (one indexed lookup, see
:mod:`blog.cache.versions`) and serves a stored answer only if it was made under that
version, for the very same URL. Two kinds of answer are stored:

* a **shared body** (:mod:`blog.shared`): what a list of posts says to every reader, with a
  slot for each of the reader's own marks. Anyone may be served it: an anonymous reader as
  it is, a signed-in one after the token is verified exactly as the app verifies it and
  one small query has confirmed the reader is an active member and read their marks;
* a **whole response** to the very same ``Authorization`` header (so one viewer never
  gets another's answer: drafts, ``/users/me``), only while that token is unexpired.

Whatever the cache cannot verify goes to the app, which answers as if there were no
cache. A request presenting an API key (``X-API-Key``) is never served from the cache nor
stored in it: the app checks the key on every call, so a revoked key fails at once.
Each worker keeps its own bounded LRU; they agree because the version lives in the
database they share. Responses carry an ``ETag`` derived from the key (``If-None-Match``
gets a 304) and ``X-Cache``: ``hit``, ``shared`` (a shared body with the reader's marks)
or ``miss``, and the metrics count them (``blog_response_cache_requests_total``). An entry
keeps the route template of the answer it copies (and whom it answered, for a response to
a token), so the request metrics and the request log see an answer from memory as the
app's own.
"""

import base64
import hashlib
import json
import re
import time
from array import array
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from blog.auth.security import InvalidToken, TokenCodec
from blog.cache.lookups import MAX_MARKED_IDS, Lookups
from blog.cache.versions import FOUND_TENANT
from blog.keys import API_KEY_HEADER
from blog.observability.context import current, note_tenant, note_user
from blog.observability.metrics import (
    CACHE_HIT,
    CACHE_MISS,
    CACHE_SHARED,
    ROUTE_KEY,
    UNMATCHED,
    route_template,
)
from blog.shared import STATE_KEY, Scheme, SharedBody

SEEN_SLOTS = 1 << 16  # URLs read once, remembered in a fixed 512 KiB table

# The blog named by a path: the native API's and the RealWorld API's.
_TENANT_PATH = re.compile(r"^/(?:api/v1/tenants|conduit)/([^/]+)(?:/|$)")


@dataclass(frozen=True, slots=True)
class Entry:
    status: int
    headers: list[tuple[bytes, bytes]]  # without content-length
    body: bytes  # for a shared body: as an anonymous reader sees it
    expires_at: float | None  # the token's expiry, for a response to a token
    shared: SharedBody | None = None
    route: str = UNMATCHED  # the template of the route that made it, for the metrics
    user_id: str | None = None  # whom it answered (a response to a token), for the log

    @property
    def size(self) -> int:
        """Bytes held, with an allowance for the key, headers and objects around them."""
        held = len(self.body) + sum(len(n) + len(v) for n, v in self.headers) + 600
        return held + (self.shared.size if self.shared else 0)


def _token_expiry(authorization: bytes) -> float | None:
    """The ``exp`` of the JWT in an Authorization header. Read unverified: an entry is
    only stored after the app accepted this very header."""
    try:
        token = authorization.split(b" ", 1)[1].strip()
        payload = token.split(b".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return 0.0  # unreadable: never served from the cache


def _presented_token(authorization: str, schemes: frozenset[Scheme]) -> str | None:
    """The token of ``<scheme> <token>`` when the route accepts that scheme."""
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() not in schemes or not token or " " in token:
        return None
    return token


def _digest(key: tuple[Any, ...]) -> bytes:
    return hashlib.blake2b(repr(key).encode(), digest_size=16).digest()


class ResponseCache:
    """Serves repeated GETs under a blog's path from memory while its version holds."""

    def __init__(
        self, app: ASGIApp, *, lookups: Lookups, tokens: TokenCodec, max_bytes: int
    ) -> None:
        self.app = app
        self.lookups = lookups
        self.tokens = tokens
        self.max_bytes = max_bytes
        self.entries: OrderedDict[tuple[Any, ...], Entry] = OrderedDict()
        self.stored_bytes = 0
        # Admission on the second sighting: a URL read once (a crawler, a deep page) costs
        # a slot of a table allocated up front, not a stored body, so memory stays flat
        # under cold reads. A slot holds the fingerprint of the last URL that hashed to it.
        self.seen = array("Q", bytes(8 * SEEN_SLOTS))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.max_bytes <= 0:
            await self.app(scope, receive, send)
            return
        match = _TENANT_PATH.match(scope["path"])
        if match is None or "\x00" in match[1] or len(match[1]) > 100:
            await self.app(scope, receive, send)
            return
        try:
            found = await self.lookups.tenant(match[1])
        except sa.exc.SQLAlchemyError:
            found = None  # the app will answer (503) as it would without a cache
        if found is None:
            await self.app(scope, receive, send)
            return
        # The blog as found, for the request: no need to read its row again.
        scope.setdefault("state", {})[FOUND_TENANT] = found
        note_tenant(found.row["slug"])
        request_headers = Headers(scope=scope)
        if scope["method"] != "GET" or API_KEY_HEADER in request_headers:
            await self.app(scope, receive, send)
            return
        authorization = request_headers.get("authorization", "")
        public_key = (found.id, found.version, b"", scope["path"], scope["query_string"])
        key = (
            (
                *public_key[:2],
                hashlib.blake2b(authorization.encode("latin-1")).digest(),
                *public_key[3:],
            )
            if authorization
            else public_key
        )
        digest = _digest(key)
        etag = f'"{found.version}-{digest.hex()}"'
        extra = [
            (b"etag", etag.encode()),
            (b"cache-control", b"private, no-cache" if authorization else b"no-cache"),
            (b"vary", b"Authorization, X-API-Key"),
        ]
        if_none_match = request_headers.get("if-none-match")
        entry = self.entries.get(key)
        if entry is not None and (entry.expires_at is None or entry.expires_at > time.time()):
            self.entries.move_to_end(key)
            CACHE_HIT.inc()
            scope[ROUTE_KEY] = entry.route
            if entry.user_id is not None:
                note_user(entry.user_id)
            await _respond(send, entry, entry.body, extra, b"hit", if_none_match == etag)
            return
        public = self.entries.get(public_key) if authorization else None
        if public is not None and public.shared is not None:
            body = await self._personal(public.shared, found.id, authorization)
            if body is not None:
                self.entries.move_to_end(public_key)
                CACHE_SHARED.inc()
                scope[ROUTE_KEY] = public.route
                await _respond(send, public, body, extra, b"shared", if_none_match == etag)
                return
        CACHE_MISS.inc()
        await self._fill(scope, receive, send, key, public_key, extra, authorization)

    async def _personal(
        self, shared: SharedBody, tenant_id: Any, authorization: str
    ) -> bytes | None:
        """The shared body with this reader's marks, if the reader is verified: the token as
        the app checks it, then an active member of this blog. None leaves it to the app."""
        token = _presented_token(authorization, shared.schemes)
        if token is None:
            return None
        try:
            claims = self.tokens.decode_for(token, tenant_id=tenant_id)
        except InvalidToken:
            return None
        if len(shared.posts) + len(shared.users) > MAX_MARKED_IDS:
            return None
        try:
            marks = await self.lookups.viewer_marks(
                tenant_id,
                claims.user_id,
                generation=claims.generation,
                posts=shared.posts,
                users=shared.users,
            )
        except sa.exc.SQLAlchemyError:
            return None
        if marks is None:
            return None
        note_user(claims.user_id)
        return shared.render(marks)

    async def _fill(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        key: tuple[Any, ...],
        public_key: tuple[Any, ...],
        extra: list[tuple[bytes, bytes]],
        authorization: str,
    ) -> None:
        start: Message = {}
        storable = False
        body = bytearray()
        state = scope.setdefault("state", {})
        root_app = scope.get("app")

        async def capture(message: Message) -> None:
            nonlocal start, storable
            if message["type"] == "http.response.start":
                start = message
                storable = _storable(message)
                headers = [*message["headers"], (b"x-cache", b"miss")]
                if storable:
                    headers += extra
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and storable:
                body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    shared = state.get(STATE_KEY)
                    route = route_template(scope, root_app)
                    if isinstance(shared, SharedBody):
                        entry = Entry(200, [], shared.render(()), None, shared, route)
                        self._store(public_key, start, entry)
                    else:
                        auth = authorization.encode("latin-1")
                        expires = _token_expiry(auth) if auth else None
                        context = current()
                        user_id = context.user_id if context and auth else None
                        entry = Entry(200, [], bytes(body), expires, None, route, user_id)
                        self._store(key, start, entry)
            await send(message)

        await self.app(scope, receive, capture)

    def _admit(self, key: tuple[Any, ...]) -> bool:
        """Whether this is the key's second sighting (it may take a third, when another
        key took its slot in between)."""
        digest = _digest(key)
        fingerprint = int.from_bytes(digest[:8], "little") | 1  # never the empty slot's 0
        slot = int.from_bytes(digest[8:12], "little") % SEEN_SLOTS
        if self.seen[slot] == fingerprint:
            self.seen[slot] = 0
            return True
        self.seen[slot] = fingerprint
        return False

    def _store(self, key: tuple[Any, ...], start: Message, entry: Entry) -> None:
        """Keep ``entry``, with the headers of ``start``."""
        if key in self.entries or not self._admit(key):
            return
        headers = [(n, v) for n, v in start["headers"] if n.lower() != b"content-length"]
        entry = replace(entry, headers=headers)
        if entry.size > self.max_bytes // 8:
            return  # a huge answer would evict everything else
        self.entries[key] = entry
        self.stored_bytes += entry.size
        while self.stored_bytes > self.max_bytes:
            _, evicted = self.entries.popitem(last=False)
            self.stored_bytes -= evicted.size


def _storable(start: Message) -> bool:
    """A 200 the route did not mark ``Cache-Control: no-store`` (what it reads moves no
    blog's version: logins, for one)."""
    if start.get("status") != 200:
        return False
    controls = (v for n, v in start.get("headers", ()) if n.lower() == b"cache-control")
    return not any(b"no-store" in value.lower() for value in controls)


async def _respond(
    send: Send,
    entry: Entry,
    body: bytes,
    extra: list[tuple[bytes, bytes]],
    how: bytes,
    not_modified: bool,
) -> None:
    headers = [*extra, (b"x-cache", how)]
    if not_modified:
        status, body = 304, b""
    else:
        status = entry.status
        headers = [*entry.headers, (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
