"""Emitting events: a delivery row (and its job) per endpoint that wants the event, written
in the transaction of the change it tells of. A rolled-back change emits nothing; a
committed one is delivered at least once.

The payload follows Standard Webhooks: ``{"type", "timestamp", "data"}``, with data an
admin of the blog may see (no password hashes; members' addresses, as in the admin's list
of members).
"""

import uuid
from typing import Any

from sqlmodel import Session, col, select

from blog.database import utcnow
from blog.jobs import enqueue
from blog.posts.models import Comment, Post
from blog.tenancy import TenantScopeError, bound_tenant
from blog.users.models import User
from blog.webhooks.delivery import DELIVER
from blog.webhooks.models import Event, WebhookDelivery, WebhookEndpoint, new_delivery_id


def payload(event: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": event, "timestamp": utcnow().isoformat(), "data": data}


def deliver(
    session: Session, endpoint: WebhookEndpoint, event: str, data: dict[str, Any]
) -> WebhookDelivery:
    """Write a delivery of ``event`` to ``endpoint``, sent once this transaction commits."""
    delivery = WebhookDelivery(
        tenant_id=endpoint.tenant_id,
        id=new_delivery_id(),
        endpoint_id=endpoint.id,
        event=event,
        payload=payload(event, data),
    )
    session.add(delivery)
    session.flush()
    enqueue(session, DELIVER, {"delivery_id": delivery.id}, key=delivery.id)
    return delivery


def emit(session: Session, tenant_id: uuid.UUID, event: Event, data: dict[str, Any]) -> int:
    """Tell every active endpoint of the blog subscribed to ``event``; how many."""
    if bound_tenant(session) != tenant_id:
        raise TenantScopeError("events are emitted in a session bound to their blog")
    endpoints = session.exec(
        select(WebhookEndpoint)
        .where(col(WebhookEndpoint.is_active).is_(True))
        .order_by(col(WebhookEndpoint.id))
    ).all()
    wanting = [endpoint for endpoint in endpoints if endpoint.wants(event)]
    for endpoint in wanting:
        deliver(session, endpoint, event, data)
    return len(wanting)


def _time(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def author_data(user: User | None) -> dict[str, Any] | None:
    return None if user is None else {"id": str(user.id), "username": user.username}


def post_data(post: Post) -> dict[str, Any]:
    """A post as an editor sees it (its author by id and username)."""
    return {
        "id": str(post.id),
        "slug": post.slug,
        "title": post.title,
        "description": post.description,
        "body": post.body,
        "status": str(post.status),
        "tags": [tag.name for tag in post.tags],
        "author": author_data(post.author),
        "published_at": _time(post.published_at),
        "created_at": _time(post.created_at),
        "updated_at": _time(post.updated_at),
    }


def post_ref(post: Post) -> dict[str, Any]:
    return {"id": str(post.id), "slug": post.slug, "title": post.title}


def comment_data(comment: Comment, post: Post) -> dict[str, Any]:
    return {
        "id": str(comment.id),
        "number": comment.number,
        "post": post_ref(post),
        "body": comment.body,
        "author": author_data(comment.author),
        "created_at": _time(comment.created_at),
    }


def member_data(user: User) -> dict[str, Any]:
    """A member as the blog's admins see them (their address included)."""
    return {
        "id": str(user.id),
        "username": user.username,
        "name": user.name,
        "email": user.email,
        "role": str(user.role),
        "created_at": _time(user.created_at),
    }
