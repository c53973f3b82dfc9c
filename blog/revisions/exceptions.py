from blog.errors import NotFound


class RevisionNotFound(NotFound):
    code = "revision_not_found"
    detail = "No such revision of this post."


class AutosaveNotFound(NotFound):
    code = "autosave_not_found"
    detail = "You have no autosave of this post."
