from blog.database import KeepChangesError
from blog.errors import InvalidInput, Unauthorized


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    detail = "Incorrect username or password."


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
