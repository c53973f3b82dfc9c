from blog.errors import Conflict, Forbidden, InvalidInput, NotFound


class TenantNotFound(NotFound):
    code = "tenant_not_found"
    detail = "No such tenant."


class TenantSlugTaken(Conflict):
    code = "tenant_slug_taken"
    detail = "This tenant slug is already taken."


class TenantSignupClosed(Forbidden):
    code = "tenant_signup_closed"
    detail = "Public tenant sign-up is disabled on this deployment."


class InvalidExport(InvalidInput):
    code = "invalid_export"
    detail = "Not a blog export file."
