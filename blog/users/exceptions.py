from blog.errors import Conflict, Forbidden, InvalidInput, NotFound


class UserNotFound(NotFound):
    code = "user_not_found"
    detail = "No such user."


class EmailTaken(Conflict):
    code = "email_taken"
    detail = "This email is already registered in this blog."


class UsernameTaken(Conflict):
    code = "username_taken"
    detail = "This username is already taken in this blog."


class RegistrationClosed(Forbidden):
    code = "registration_closed"
    detail = "This blog does not accept new registrations."


class RoleForbidden(Forbidden):
    code = "role_forbidden"
    detail = "Your role does not allow this."


class LastOwner(Conflict):
    code = "last_owner"
    detail = "A blog must keep at least one active owner."


class CannotFollowSelf(InvalidInput):
    code = "cannot_follow_self"
    detail = "You cannot follow yourself."
