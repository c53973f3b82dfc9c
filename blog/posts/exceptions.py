from blog.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized


class PostNotFound(NotFound):
    code = "post_not_found"
    detail = "No such post."


class CommentNotFound(NotFound):
    code = "comment_not_found"
    detail = "No such comment."


class NotPostEditor(Forbidden):
    code = "not_post_editor"
    detail = "Only the post's author or an editor can change this post."


class NotCommentModerator(Forbidden):
    code = "not_comment_moderator"
    detail = "Only the comment's author, the post's author or an editor can delete this comment."


class PostNotPublished(Conflict):
    code = "post_not_published"
    detail = "Comments are accepted on published posts only."


class SlugUnavailable(Conflict):
    code = "slug_unavailable"
    detail = "Could not find a free slug for this title; try again."


class DraftsNeedLogin(Unauthorized):
    code = "not_authenticated"
    detail = "Log in to list drafts."


class InvalidCursor(InvalidInput):
    code = "invalid_cursor"
    detail = "`after` is not a cursor this list gave out; start again without it."


class InvalidSchedule(InvalidInput):
    code = "invalid_schedule"
    detail = (
        "A scheduled post needs `published_at` in the future; `published_at` is given only"
        " with `status: scheduled`."
    )


class AlreadyPublished(Conflict):
    code = "post_already_published"
    detail = "A published post cannot be scheduled; set its status to draft first."


class CursorNeedsNewestFirst(InvalidInput):
    code = "cursor_needs_newest_first"
    detail = "`after` continues a list newest first: with `q`, add `order=newest`, or use `offset`."


class RelevanceNeedsSearch(InvalidInput):
    code = "relevance_needs_search"
    detail = "`order=relevance` ranks what a search finds: give `q` too."
