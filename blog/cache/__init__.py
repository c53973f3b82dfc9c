"""The response cache: blog content versions, the lookups it makes, and the middleware."""

from blog.cache.lookups import lookups_for
from blog.cache.middleware import ResponseCache
from blog.cache.versions import TenantVersion, bump_versions, found_version

__all__ = ["ResponseCache", "TenantVersion", "bump_versions", "found_version", "lookups_for"]
