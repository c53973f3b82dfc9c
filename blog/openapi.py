"""The native API's OpenAPI names: operation ids a client generator turns into readable
functions (``posts-readBySlug``, not ``read_post_by_slug_api_v1_tenants__tenant__…_get``)."""

from fastapi.routing import APIRoute


def operation_id(route: APIRoute) -> str:
    """``{tag}-{action}``: the route's first tag, then its function's name in camelCase,
    less the tag's noun right after the verb (the tag already says it): ``posts`` +
    ``read_post_by_slug`` → ``posts-readBySlug``; ``users`` + ``read_me`` → ``users-readMe``.

    Every native route has a tag; a test keeps the ids unique and of this shape.
    """
    if not route.tags:
        raise ValueError(f"{route.path} has no tag: give its router one (tags=[...])")
    tag = str(route.tags[0])
    words = route.name.split("_")
    if len(words) > 1 and words[1] in {tag, tag.removesuffix("s")}:
        del words[1]
    return f"{tag}-{words[0]}{''.join(word.capitalize() for word in words[1:])}"
