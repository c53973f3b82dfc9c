"""Responses that every viewer shares, with each viewer's own marks put in.

A list of posts reads the same for every reader but for what that reader marked:
``favorited`` on each post and, in the RealWorld API, ``following`` on each author. A route
builds such a response once as a :class:`SharedBody` (the JSON, with a slot where each mark
goes), renders it for its caller, and leaves it in the request's state. The response cache
(:mod:`blog.cache`) keeps it under the blog's content version and the URL alone, so the next
reader of that URL, whoever they are, costs one small query for their own marks.

A route may share a body only when nothing else in it depends on who asks (no drafts).
"""

import re
import secrets
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pydantic_core
from fastapi import Request, Response
from pydantic import BaseModel

STATE_KEY = "blog.shared_body"


class MarkKind(StrEnum):
    favorited = "favorited"  # of a post, by the viewer
    following = "following"  # of a user, by the viewer


class Scheme(StrEnum):
    """``Authorization`` schemes, lower-cased: the native API's and the RealWorld API's."""

    bearer = "bearer"
    token = "token"  # noqa: S105 - a scheme's name


class Mark:
    """A yes-or-no of the viewer's in a shared body: not a dataclass, so that serializers
    leave it to the placeholder."""

    __slots__ = ("id", "kind")

    def __init__(self, kind: MarkKind, id: uuid.UUID) -> None:
        self.kind = kind
        self.id = id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mark) and (self.kind, self.id) == (other.kind, other.id)

    def __hash__(self) -> int:
        return hash((self.kind, self.id))

    def __repr__(self) -> str:
        return f"Mark({self.kind.value}, {self.id})"


# A placeholder no client text can produce: JSON escapes NUL in strings, and the nonce is
# secret to this process.
_NONCE = secrets.token_hex(8)
_SLOT = re.compile(rb'"\\u0000' + _NONCE.encode() + rb':(\d+)"')


@dataclass(frozen=True, slots=True)
class SharedBody:
    """JSON bytes cut at each mark: ``segments[0] slot[0] segments[1] … segments[-1]``."""

    segments: tuple[bytes, ...]
    slots: tuple[Mark, ...]
    schemes: frozenset[Scheme]  # how a caller of the route presents a token
    # The ids of the posts and users with a slot: what a reader's marks are read for.
    posts: frozenset[uuid.UUID] = frozenset()
    users: frozenset[uuid.UUID] = frozenset()

    def render(self, marks: Collection[Mark]) -> bytes:
        """The body for a viewer whose marks are ``marks`` (an anonymous one: none)."""
        parts = [self.segments[0]]
        for mark, after in zip(self.slots, self.segments[1:], strict=True):
            parts.append(b"true" if mark in marks else b"false")
            parts.append(after)
        return b"".join(parts)

    @property
    def size(self) -> int:
        return sum(map(len, self.segments)) + 60 * len(self.slots)


def shared_body(content: Any, *, schemes: Iterable[Scheme]) -> SharedBody:
    """Serialize ``content`` (dicts, lists, models built with ``model_construct``) once, with
    every :class:`Mark` in it left as a slot."""
    slots: list[Mark] = []

    def placeholder(value: Any) -> str:
        if not isinstance(value, Mark):
            raise TypeError(f"cannot serialize {type(value).__name__}")
        slots.append(value)
        return f"\x00{_NONCE}:{len(slots) - 1}"

    if isinstance(content, BaseModel):  # built with model_construct: marks are not bools
        raw = content.model_dump_json(by_alias=True, fallback=placeholder, warnings=False).encode()
    else:
        raw = pydantic_core.to_json(content, by_alias=True, fallback=placeholder)
    pieces = _SLOT.split(raw)
    # split() alternates text and captured slot numbers, which come in order.
    segments = tuple(pieces[0::2])
    if [int(n) for n in pieces[1::2]] != list(range(len(slots))):
        raise ValueError("a mark's placeholder was split or reordered")
    return SharedBody(
        segments=segments,
        slots=tuple(slots),
        schemes=frozenset(schemes),
        posts=frozenset(mark.id for mark in slots if mark.kind == MarkKind.favorited),
        users=frozenset(mark.id for mark in slots if mark.kind == MarkKind.following),
    )


def shared_response(
    request: Request,
    content: Any,
    *,
    marks: Collection[Mark],
    shareable: bool,
    schemes: Iterable[Scheme] = (Scheme.bearer,),
) -> Response:
    """``content`` for this caller, whose marks are ``marks``; offered to the response cache
    for every other viewer when ``shareable``."""
    body = shared_body(content, schemes=schemes)
    if shareable:
        setattr(request.state, STATE_KEY, body)
    return Response(body.render(marks), media_type="application/json")
