from blog.database import KeepChangesError
from blog.errors import Conflict, Forbidden, InvalidInput, Unauthorized
from blog.ratelimit import RateLimited


class InvalidCredentials(KeepChangesError, Unauthorized):
    """A wrong password counts towards the account's lockout, and that must be kept."""

    code = "invalid_credentials"
    detail = "Incorrect username or password."


class AccountLocked(RateLimited):
    """Too many wrong passwords in a row: 429 with Retry-After, like the rate limits, so a
    client backs off the same way whichever limit it met."""

    code = "account_locked"
    detail = "Too many failed logins; this account is locked for a while."

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            retry_after,
            f"Too many failed logins; this account is locked. Retry in {retry_after} seconds, "
            "or reset the password.",
        )


class InvalidLink(InvalidInput):
    code = "invalid_link"
    detail = "This link is invalid, has expired or was already used."


class EmailAlreadyVerified(Conflict):
    code = "email_already_verified"
    detail = "Your email address is already verified."


class EmailNotVerified(Forbidden):
    code = "email_not_verified"
    detail = "Verify your email address first: this blog requires it for writing."


class SameEmail(InvalidInput):
    code = "same_email"
    detail = "That is already your email address."


class CsrfRejected(Forbidden):
    code = "csrf_rejected"
    detail = "Refreshing with the cookie needs the X-CSRF-Token header matching the CSRF cookie."


class InvalidAccessToken(Unauthorized):
    code = "invalid_token"
    detail = "Invalid or expired access token."


class InvalidRefreshToken(Unauthorized):
    code = "invalid_refresh_token"
    detail = "Invalid, expired or revoked refresh token."


class RefreshTokenReused(KeepChangesError, InvalidRefreshToken):
    """A used refresh token came back: its family is revoked, and that must be kept."""


class PasswordRejected(InvalidInput):
    code = "password_rejected"
    detail = "Passwords must be at most 72 bytes when UTF-8 encoded."


class WrongCurrentPassword(InvalidInput):
    code = "wrong_current_password"
    detail = "The current password is incorrect."
