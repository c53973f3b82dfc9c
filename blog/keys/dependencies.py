"""The API key a request presents (``X-API-Key``), checked against the blog in its path.

Every route under a blog's path checks a presented key (``check_key`` runs for all of
them): a bad key is a 401 even where no key is needed, never a silent anonymous read.
Which routes a valid key may call is decided with the caller, in
:mod:`blog.auth.dependencies`.
"""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from blog.database import SessionDep, lookup
from blog.keys import API_KEY_HEADER, service
from blog.keys.exceptions import InvalidApiKey
from blog.keys.service import KeyCaller
from blog.tenants.dependencies import TenantDep

# Documents the header on the routes that accept keys.
api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    scheme_name="ApiKey",
    auto_error=False,
    description=(
        "A key made with `POST /api/v1/tenants/{tenant}/keys` (or `blog keys create`), "
        "valid only under that blog's paths. A content key (`blog_ck_…`) reads what anyone "
        "may read; an admin key (`blog_ak_…`) acts as its creator on the routes its scopes "
        "name."
    ),
)


async def get_key_caller(
    request: Request, _tenant: TenantDep, session: SessionDep
) -> KeyCaller | None:
    """The key the request presents (None when it sends none); a key that is not a valid
    key of this blog (the tenant binds the session first), or one sent alongside a token,
    is a 401."""
    presented = request.headers.get(API_KEY_HEADER)
    if presented is None:
        return None
    if request.headers.get("authorization"):
        raise InvalidApiKey("Send an access token or an API key, not both.")
    return await lookup(session, service.authenticate, key=presented)


async def _documented_key(_key: Annotated[str | None, Depends(api_key_scheme)]) -> None:
    """Puts the key scheme in the OpenAPI document of a route accepting keys."""


KeyCallerDep = Annotated[KeyCaller | None, Depends(get_key_caller)]
AcceptsKey = Depends(_documented_key)
