"""Conduit API: comments on articles.

Written from the RealWorld spec and the adapter's contract: ``{"comment": ...}`` and
``{"comments": [...]}`` oldest first, integer ids numbered per article from 1 and never
reused, and deletion by the comment's author, the article's author or an editor.
"""

from datetime import timedelta

import pytest

from blog.database import utcnow
from blog.users.models import Role
from tests.conduit import (
    COMMENT_KEYS,
    EDITOR_ROLES,
    PROFILE_KEYS,
    Caller,
    Conduit,
    MakeUser,
    assert_bad_token,
    assert_error,
    assert_no_content,
    assert_unauthenticated,
    draft,
    ok,
    published,
    timestamp,
)
from tests.factories import FollowFactory

# --- POST /articles/{slug}/comments -----------------------------------------------------------


def test_add_comment_answers_201_with_the_comment(api: Conduit, user: MakeUser) -> None:
    post = published(user())
    me = user(username="jake", bio="I work at statefarm")
    before = utcnow().replace(microsecond=0)

    response = api.add_comment(post.slug, me, "His name was my name too.")

    comment = ok(response, 201)["comment"]
    assert set(comment) == COMMENT_KEYS
    assert comment["id"] == 1
    assert type(comment["id"]) is int
    assert comment["body"] == "His name was my name too."
    assert comment["author"] == {
        "username": "jake",
        "bio": "I work at statefarm",
        "image": None,
        "following": False,
    }
    after = utcnow() + timedelta(seconds=1)
    assert before <= timestamp(comment["createdAt"]) <= after
    assert before <= timestamp(comment["updatedAt"]) <= after


def test_comment_ids_count_per_article_from_1(api: Conduit, user: MakeUser) -> None:
    first, second = published(user()), published(user())
    me = user()

    ids = [api.comment(first.slug, me)["id"] for _ in range(3)]
    other = api.comment(second.slug, me)["id"]

    assert ids == [1, 2, 3]
    assert other == 1


def test_comment_ids_are_never_reused(api: Conduit, user: MakeUser) -> None:
    post = published(user())
    me = user()
    api.comment(post.slug, me)
    api.comment(post.slug, me)

    assert_no_content(api.delete(f"/articles/{post.slug}/comments/2", me))
    third = api.comment(post.slug, me)

    assert third["id"] == 3
    assert api.comment_ids(post.slug) == [1, 3]


def test_comment_ids_are_not_reused_after_deleting_them_all(api: Conduit, user: MakeUser) -> None:
    post = published(user())
    me = user()
    api.comment(post.slug, me)
    assert_no_content(api.delete(f"/articles/{post.slug}/comments/1", me))

    assert api.comment(post.slug, me)["id"] == 2


@pytest.mark.parametrize("body", [None, "", "   "], ids=["missing", "empty", "spaces"])
def test_add_comment_needs_a_body(api: Conduit, user: MakeUser, body: str | None) -> None:
    post = published(user())
    comment = {} if body is None else {"body": body}

    response = api.post(f"/articles/{post.slug}/comments", user(), {"comment": comment})

    assert_error(response, 422, "body", "can't be blank")
    assert api.comment_ids(post.slug) == []


def test_add_comment_without_the_comment_envelope_is_422(api: Conduit, user: MakeUser) -> None:
    post = published(user())

    response = api.post(f"/articles/{post.slug}/comments", user(), {"body": "Nice!"})

    assert_error(response, 422, "comment", "can't be blank")


def test_add_comment_to_an_unknown_article_is_404(api: Conduit, user: MakeUser) -> None:
    response = api.add_comment("no-such-article", user())

    assert_error(response, 404, "article", "not found")


def test_add_comment_to_someone_elses_draft_is_404(api: Conduit, user: MakeUser) -> None:
    post = draft(user())

    assert_error(api.add_comment(post.slug, user()), 404, "article", "not found")


def test_add_comment_without_a_token_is_401_even_for_an_unknown_article(
    api: Conduit, user: MakeUser
) -> None:
    post = published(user())

    assert_unauthenticated(api.add_comment(post.slug, None))
    assert_unauthenticated(api.add_comment("no-such-article", None))
    assert api.comment_ids(post.slug) == []


# --- GET /articles/{slug}/comments ------------------------------------------------------------


def test_list_comments_oldest_first(api: Conduit, user: MakeUser) -> None:
    post = published(user())
    ann, bob = user(username="ann"), user(username="bob")
    for caller, text in ((ann, "first"), (bob, "second"), (ann, "third")):
        api.comment(post.slug, caller, text)
    api.comment(published(user()).slug, bob, "elsewhere")

    body = ok(api.get(f"/articles/{post.slug}/comments"))

    assert set(body) == {"comments"}
    assert [(c["id"], c["body"], c["author"]["username"]) for c in body["comments"]] == [
        (1, "first", "ann"),
        (2, "second", "bob"),
        (3, "third", "ann"),
    ]
    for comment in body["comments"]:
        assert set(comment) == COMMENT_KEYS
        assert set(comment["author"]) == PROFILE_KEYS
        timestamp(comment["createdAt"])
    created = [timestamp(c["createdAt"]) for c in body["comments"]]
    assert created == sorted(created)


def test_list_comments_of_an_article_without_any(api: Conduit, user: MakeUser) -> None:
    post = published(user())

    assert ok(api.get(f"/articles/{post.slug}/comments")) == {"comments": []}


def test_list_comments_shows_following_for_the_caller(api: Conduit, user: MakeUser) -> None:
    post = published(user())
    commenter, fan = user(), user()
    api.comment(post.slug, commenter)
    FollowFactory.create(follower=fan, followed=commenter)

    def following(caller: Caller) -> bool:
        result: bool = ok(api.get(f"/articles/{post.slug}/comments", caller))["comments"][0][
            "author"
        ]["following"]
        return result

    assert (following(fan), following(user()), following(None)) == (True, False, False)


def test_list_comments_of_an_unknown_article_is_404(api: Conduit) -> None:
    assert_error(api.get("/articles/no-such-article/comments"), 404, "article", "not found")


def test_list_comments_of_a_draft_is_404_to_others(api: Conduit, user: MakeUser) -> None:
    post = draft(user())

    assert_error(api.get(f"/articles/{post.slug}/comments"), 404, "article", "not found")
    assert_error(api.get(f"/articles/{post.slug}/comments", user()), 404, "article", "not found")


def test_list_comments_with_a_bad_token_is_401_not_anonymous(api: Conduit, user: MakeUser) -> None:
    post = published(user())

    assert_bad_token(api.get(f"/articles/{post.slug}/comments", "not-a-token"))


# --- DELETE /articles/{slug}/comments/{id} ----------------------------------------------------


def test_delete_own_comment_answers_204_and_it_is_gone(api: Conduit, user: MakeUser) -> None:
    post = published(user())
    me = user()
    api.comment(post.slug, me, "keep")
    api.comment(post.slug, me, "remove")

    assert_no_content(api.delete(f"/articles/{post.slug}/comments/2", me))

    remaining = ok(api.get(f"/articles/{post.slug}/comments"))["comments"]
    assert [(c["id"], c["body"]) for c in remaining] == [(1, "keep")]


def test_the_articles_author_may_delete_any_comment_on_it(api: Conduit, user: MakeUser) -> None:
    author = user()
    post = published(author)
    api.comment(post.slug, user())

    assert_no_content(api.delete(f"/articles/{post.slug}/comments/1", author))
    assert api.comment_ids(post.slug) == []


@pytest.mark.parametrize("role", EDITOR_ROLES)
def test_editors_and_up_may_delete_any_comment(api: Conduit, user: MakeUser, role: Role) -> None:
    post = published(user())
    api.comment(post.slug, user())

    assert_no_content(api.delete(f"/articles/{post.slug}/comments/1", user(role=role)))
    assert api.comment_ids(post.slug) == []


@pytest.mark.parametrize("role", [Role.author, Role.reader])
def test_other_members_may_not_delete_a_comment(api: Conduit, user: MakeUser, role: Role) -> None:
    post = published(user())
    api.comment(post.slug, user())

    response = api.delete(f"/articles/{post.slug}/comments/1", user(role=role))

    assert_error(response, 403, "comment", "forbidden")
    assert api.comment_ids(post.slug) == [1]


def test_delete_unknown_comment_is_404(api: Conduit, user: MakeUser) -> None:
    post = published(user())
    me = user()
    api.comment(post.slug, me)

    response = api.delete(f"/articles/{post.slug}/comments/2", me)

    assert_error(response, 404, "comment", "not found")


def test_delete_a_comment_through_another_article_is_404(api: Conduit, user: MakeUser) -> None:
    commented, other = published(user()), published(user())
    me = user(role=Role.owner)
    api.comment(commented.slug, me)

    response = api.delete(f"/articles/{other.slug}/comments/1", me)

    assert_error(response, 404, "comment", "not found")
    assert api.comment_ids(commented.slug) == [1]


def test_delete_a_comment_that_is_no_number_is_refused(api: Conduit, user: MakeUser) -> None:
    post = published(user())
    me = user()
    api.comment(post.slug, me)

    response = api.delete(f"/articles/{post.slug}/comments/first", me)

    assert response.status_code in {404, 422}, response.text
    assert set(response.json()) == {"errors"}
    assert api.comment_ids(post.slug) == [1]


def test_delete_a_comment_of_an_unknown_article_is_404(api: Conduit, user: MakeUser) -> None:
    response = api.delete("/articles/no-such-article/comments/1", user(role=Role.owner))

    assert_error(response, 404, "article", "not found")


def test_delete_comment_without_a_token_is_401_even_if_it_is_missing(
    api: Conduit, user: MakeUser
) -> None:
    post = published(user())
    api.comment(post.slug, user())

    assert_unauthenticated(api.delete(f"/articles/{post.slug}/comments/1"))
    assert_unauthenticated(api.delete(f"/articles/{post.slug}/comments/99"))
    assert_unauthenticated(api.delete("/articles/no-such-article/comments/1"))
    assert api.comment_ids(post.slug) == [1]
