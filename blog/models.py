"""Imports every table model, so the metadata is complete (Alembic, tests, scoping)."""

from sqlmodel import SQLModel

from blog.auth.models import AccountToken, AuthSession, RefreshToken
from blog.cache import TenantVersion
from blog.jobs.models import Job
from blog.keys.models import ApiKey
from blog.media.models import Media
from blog.posts.models import Comment, Favorite, Post, PostTag, Tag
from blog.ratelimit import RateLimitHit
from blog.revisions.models import PostAutosave, PostRevision
from blog.tenants.models import Tenant
from blog.users.models import Follow, User
from blog.webhooks.models import WebhookDelivery, WebhookEndpoint

metadata = SQLModel.metadata

__all__ = [
    "AccountToken",
    "ApiKey",
    "AuthSession",
    "Comment",
    "Favorite",
    "Follow",
    "Job",
    "Media",
    "Post",
    "PostAutosave",
    "PostRevision",
    "PostTag",
    "RateLimitHit",
    "RefreshToken",
    "Tag",
    "Tenant",
    "TenantVersion",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
    "metadata",
]
