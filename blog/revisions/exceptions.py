from blog.errors import NotFound


class RevisionNotFound(NotFound):
    code = "revision_not_found"
    detail = "No such revision of this post."
