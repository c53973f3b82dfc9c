"""The refresh token in an httpOnly cookie, for browser apps that ask for it.

A login with ``?refresh_in=cookie`` gets its refresh token as a cookie that scripts
cannot read (``HttpOnly``), sent only over HTTPS (``Secure``; browsers allow it on
``http://localhost``), only to this blog's ``/auth`` routes (``Path``) and never with
cross-site requests (``SameSite``). The refresh and logout routes then take it instead
of a body.

A cookie is sent by the browser whoever made the page, so those routes also need proof
that the app's own script called: the double-submit token. The response carries a
``csrf_token`` and sets it in a cookie scripts *can* read; the script sends it back in
``X-CSRF-Token``, and the two must match. Another site can neither read the cookie nor
set that header without the CORS approval this API gives only to its configured origins.
"""

import secrets
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Body, Cookie, Depends, Header, Query, Request, Response

from blog.auth.exceptions import CsrfRejected, InvalidRefreshToken
from blog.auth.schemas import RefreshRequest, TokenPair
from blog.settings import Settings
from blog.tenants.dependencies import TenantDep
from blog.tenants.models import Tenant

REFRESH_COOKIE = "blog_refresh"
CSRF_COOKIE = "blog_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_TOKEN_BYTES = 24

RefreshIn = Annotated[
    Literal["body", "cookie"],
    Query(
        description=(
            "`cookie`: set the refresh token as an httpOnly cookie for this blog's `/auth` "
            "routes instead of returning it (`refresh_token` is then null, and "
            "`csrf_token` must be sent back as `X-CSRF-Token` when refreshing)."
        )
    ),
]


def auth_path(tenant: Tenant) -> str:
    return f"/api/v1/tenants/{tenant.slug}/auth"


def _csrf_cookie(tenant: Tenant) -> str:
    """One per blog: a browser may be logged in to several blogs of one deployment."""
    return f"{CSRF_COOKIE}_{tenant.slug}"


def deliver(
    response: Response, *, pair: TokenPair, tenant: Tenant, settings: Settings
) -> TokenPair:
    """Move the pair's refresh token into the cookie, with a fresh CSRF token."""
    csrf = secrets.token_urlsafe(CSRF_TOKEN_BYTES)
    max_age = settings.refresh_token_days * 24 * 3600
    response.set_cookie(
        REFRESH_COOKIE,
        pair.refresh_token or "",
        max_age=max_age,
        path=auth_path(tenant),
        secure=True,
        httponly=True,
        samesite=settings.refresh_cookie_samesite,
    )
    response.set_cookie(
        _csrf_cookie(tenant),
        csrf,
        max_age=max_age,
        path="/",
        secure=True,
        httponly=False,
        samesite=settings.refresh_cookie_samesite,
    )
    return pair.model_copy(update={"refresh_token": None, "csrf_token": csrf})


def forget(response: Response, *, tenant: Tenant, settings: Settings) -> None:
    """Remove both cookies (logout)."""
    for name, path in ((REFRESH_COOKIE, auth_path(tenant)), (_csrf_cookie(tenant), "/")):
        response.delete_cookie(
            name, path=path, secure=True, samesite=settings.refresh_cookie_samesite
        )


RefreshCookie = Annotated[str | None, Cookie(alias=REFRESH_COOKIE, include_in_schema=False)]
CsrfHeader = Annotated[
    str | None,
    Header(alias=CSRF_HEADER, description="With the refresh cookie: the login's `csrf_token`."),
]


@dataclass(frozen=True, slots=True)
class PresentedRefresh:
    token: str
    from_cookie: bool


async def get_presented_refresh(
    request: Request,
    tenant: TenantDep,
    cookie: RefreshCookie = None,
    csrf: CsrfHeader = None,
    data: Annotated[RefreshRequest | None, Body()] = None,
) -> PresentedRefresh:
    """The refresh token of the body, else of the cookie with a matching CSRF token."""
    if data is not None:
        return PresentedRefresh(data.refresh_token, from_cookie=False)
    if not cookie:
        raise InvalidRefreshToken("Send `refresh_token` in the body, or log in with the cookie.")
    expected = request.cookies.get(_csrf_cookie(tenant))
    if not csrf or not expected or not secrets.compare_digest(csrf, expected):
        raise CsrfRejected()
    return PresentedRefresh(cookie, from_cookie=True)


PresentedRefreshDep = Annotated[PresentedRefresh, Depends(get_presented_refresh)]
