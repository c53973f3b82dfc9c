from blog.auth.exceptions import InvalidAccessToken
from blog.errors import Forbidden, InvalidInput, NotFound


class InvalidApiKey(InvalidAccessToken):
    """One answer for a malformed, unknown, revoked or foreign key, or one whose creator
    may no longer use it: the same code as a bad access token."""

    detail = "Invalid or revoked API key."


class KeyNotAllowed(Forbidden):
    """A valid key on a route it may not call: a content key on a write, an admin key
    without the route's scope, any key on a route that accepts none."""

    code = "api_key_not_allowed"
    detail = "This API key may not do this."


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    detail = "No such API key."


class KeyCreatorNotAdmin(InvalidInput):
    code = "key_creator_not_admin"
    detail = "Admin keys act as an admin or owner of the blog."
