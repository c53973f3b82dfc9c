"""Imports every table model, so the metadata is complete (Alembic, tests, scoping)."""

from sqlmodel import SQLModel

from blog.auth.models import RefreshToken
from blog.posts.models import Comment, Post, PostTag, Tag
from blog.ratelimit import RateLimitHit
from blog.tenants.models import Tenant
from blog.users.models import User

metadata = SQLModel.metadata

__all__ = [
    "Comment",
    "Post",
    "PostTag",
    "RateLimitHit",
    "RefreshToken",
    "Tag",
    "Tenant",
    "User",
    "metadata",
]
