"""Conduit API: articles (write, read, change, delete, list) and the tag list.

Written from the RealWorld spec and the adapter's contract: ``{"article": ...}`` and
``{"articles": [...], "articlesCount": N}`` (list items without ``body``), newest first,
slugs distinct for equal titles, ``tagList`` in the order given, ``createdAt`` that never
changes and ``updatedAt`` that does, and drafts written natively never shown to others.
"""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from blog.database import utcnow
from blog.posts.models import Post
from blog.tenants.models import Tenant
from blog.users.models import Role
from tests.conduit import (
    ARTICLE_KEYS,
    BASE_TIME,
    EDITOR_ROLES,
    LIST_ITEM_KEYS,
    PROFILE_KEYS,
    AuthHeaders,
    Caller,
    Conduit,
    MakeUser,
    assert_bad_token,
    assert_error,
    assert_error_on,
    assert_no_content,
    assert_unauthenticated,
    conduit_time,
    draft,
    error_of,
    ok,
    published,
    timestamp,
)
from tests.factories import FavoriteFactory, FollowFactory

# --- POST /articles ---------------------------------------------------------------------------


def test_create_article_answers_201_with_the_whole_article(api: Conduit, user: MakeUser) -> None:
    me = user(username="jake", bio="I work at statefarm")

    response = api.create_article(
        me,
        title="How to train your dragon",
        description="Ever wonder how?",
        body="You have to believe",
        tagList=["reactjs", "angularjs", "dragons"],
    )

    article = ok(response, 201)["article"]
    assert set(article) == ARTICLE_KEYS
    assert isinstance(article["slug"], str)
    assert article["slug"]
    assert (article["title"], article["description"], article["body"]) == (
        "How to train your dragon",
        "Ever wonder how?",
        "You have to believe",
    )
    assert article["tagList"] == ["reactjs", "angularjs", "dragons"]
    assert (article["favorited"], article["favoritesCount"]) == (False, 0)
    assert article["author"] == {
        "username": "jake",
        "bio": "I work at statefarm",
        "image": None,
        "following": False,
    }


def test_create_article_dates_it_now_in_utc_with_milliseconds(api: Conduit, user: MakeUser) -> None:
    before = utcnow().replace(microsecond=0)

    article = api.article(user())

    after = utcnow() + timedelta(seconds=1)
    assert before <= timestamp(article["createdAt"]) <= after
    assert before <= timestamp(article["updatedAt"]) <= after


def test_a_created_article_reads_back_the_same(api: Conduit, user: MakeUser) -> None:
    me = user()
    article = api.article(me, tagList=["dragons"])

    assert ok(api.get(f"/articles/{article['slug']}", me))["article"] == article


def test_create_article_keeps_the_order_of_tags(api: Conduit, user: MakeUser) -> None:
    tags = ["zebra", "apple", "mango", "banana"]

    assert api.article(user(), tagList=tags)["tagList"] == tags


def test_create_article_trims_and_lower_cases_tags_dropping_repeats(
    api: Conduit, user: MakeUser
) -> None:
    article = api.article(user(), tagList=[" Dragons ", "training", "dragons", "TRAINING"])

    assert article["tagList"] == ["dragons", "training"]
    assert ok(api.get(f"/articles/{article['slug']}"))["article"]["tagList"] == [
        "dragons",
        "training",
    ]


def test_create_article_without_tags_has_an_empty_tag_list(api: Conduit, user: MakeUser) -> None:
    assert api.article(user())["tagList"] == []


@pytest.mark.parametrize("field", ["title", "description", "body"])
@pytest.mark.parametrize("value", [None, "", "   "], ids=["missing", "empty", "spaces"])
def test_create_article_needs_title_description_and_body(
    api: Conduit, user: MakeUser, field: str, value: str | None
) -> None:
    article = {"title": "A title", "description": "About it", "body": "The text"}
    if value is None:
        del article[field]
    else:
        article[field] = value

    response = api.post("/articles", user(), {"article": article})

    assert_error(response, 422, field, "can't be blank")
    assert ok(api.get("/articles"))["articlesCount"] == 0


def test_create_article_without_the_article_envelope_is_422(api: Conduit, user: MakeUser) -> None:
    body = {"title": "A title", "description": "About it", "body": "The text"}

    assert_error(api.post("/articles", user(), body), 422, "article", "can't be blank")


def test_create_article_with_a_tag_list_that_is_no_list_is_422(
    api: Conduit, user: MakeUser
) -> None:
    assert_error_on(api.create_article(user(), tagList="dragons"), 422, "tagList")


def test_create_article_without_a_token_is_401(api: Conduit) -> None:
    assert_unauthenticated(api.create_article(None))


def test_a_reader_cannot_write_articles(api: Conduit, user: MakeUser) -> None:
    response = api.create_article(user(role=Role.reader))

    error_of(response, 403)
    assert ok(api.get("/articles"))["articlesCount"] == 0


def test_a_created_article_is_published_at_once(api: Conduit, user: MakeUser) -> None:
    article = api.article(user())

    assert api.list_slugs() == [article["slug"]]
    assert ok(api.get(f"/articles/{article['slug']}"))["article"]["title"] == article["title"]


def test_equal_titles_get_distinct_slugs(api: Conduit, user: MakeUser) -> None:
    me = user()
    first = api.article(me, title="Same title", body="first")
    second = api.article(user(), title="Same title", body="second")

    assert first["slug"] != second["slug"]
    assert ok(api.get(f"/articles/{first['slug']}"))["article"]["body"] == "first"
    assert ok(api.get(f"/articles/{second['slug']}"))["article"]["body"] == "second"
    assert ok(api.get("/articles"))["articlesCount"] == 2


# --- GET /articles/{slug} ---------------------------------------------------------------------


def test_get_article_anonymously(api: Conduit, user: MakeUser) -> None:
    author = user(username="jake", image="https://x.example/jake.png")
    post = published(author, title="Dragons", description="How?", body="Believe", tags=["a", "b"])

    article = ok(api.get(f"/articles/{post.slug}"))["article"]

    assert set(article) == ARTICLE_KEYS
    assert article["slug"] == post.slug
    assert (article["title"], article["description"], article["body"]) == (
        "Dragons",
        "How?",
        "Believe",
    )
    assert article["tagList"] == ["a", "b"]
    assert set(article["author"]) == PROFILE_KEYS
    assert article["author"]["username"] == "jake"
    assert article["author"]["image"] == "https://x.example/jake.png"
    assert article["author"]["following"] is False


def test_get_article_renders_its_dates_in_utc_with_milliseconds(
    api: Conduit, user: MakeUser
) -> None:
    post = published(user(), days_ago=3)

    article = ok(api.get(f"/articles/{post.slug}"))["article"]

    expected = conduit_time(BASE_TIME - timedelta(days=3))
    assert (article["createdAt"], article["updatedAt"]) == (expected, expected)


def test_get_unknown_article_is_404(api: Conduit, user: MakeUser) -> None:
    published(user())

    assert_error(api.get("/articles/no-such-article"), 404, "article", "not found")


def test_get_article_with_a_bad_token_is_401_not_anonymous(api: Conduit, user: MakeUser) -> None:
    post = published(user())

    assert_bad_token(api.get(f"/articles/{post.slug}", "not-a-token"))


def test_get_article_shows_favorited_and_following_for_the_caller(
    api: Conduit, user: MakeUser
) -> None:
    author, fan, stranger = user(), user(), user()
    post = published(author)
    FavoriteFactory.create(post=post, user=fan)
    FavoriteFactory.create(post=post)
    FollowFactory.create(follower=fan, followed=author)

    def seen_by(caller: Caller) -> tuple[bool, int, bool]:
        article = ok(api.get(f"/articles/{post.slug}", caller))["article"]
        return article["favorited"], article["favoritesCount"], article["author"]["following"]

    assert seen_by(fan) == (True, 2, True)
    assert seen_by(stranger) == (False, 2, False)
    assert seen_by(None) == (False, 2, False)


def test_a_draft_is_shown_by_slug_to_its_author_only(api: Conduit, user: MakeUser) -> None:
    author = user()
    post = draft(author, title="Secret plans")

    assert ok(api.get(f"/articles/{post.slug}", author))["article"]["title"] == "Secret plans"
    assert_error(api.get(f"/articles/{post.slug}"), 404, "article", "not found")
    assert_error(api.get(f"/articles/{post.slug}", user()), 404, "article", "not found")


def test_an_article_whose_author_left_shows_deleted(
    api: Conduit, user: MakeUser, client: TestClient, tenant: Tenant, auth_headers: AuthHeaders
) -> None:
    author = user()
    post = published(author)
    gone = client.delete(f"/api/v1/tenants/{tenant.slug}/users/me", headers=auth_headers(author))
    assert gone.status_code == 204, gone.text

    article = ok(api.get(f"/articles/{post.slug}"))["article"]

    assert article["author"]["username"] == "[deleted]"
    assert [item["author"]["username"] for item in ok(api.get("/articles"))["articles"]] == [
        "[deleted]"
    ]


# --- PUT /articles/{slug} ---------------------------------------------------------------------


def test_update_article_changes_only_the_given_fields(api: Conduit, user: MakeUser) -> None:
    me = user()
    before = api.article(me, title="Title", description="Desc", body="Old", tagList=["x", "y"])

    response = api.update_article(before["slug"], me, body="New body")

    after = ok(response)["article"]
    assert set(after) == ARTICLE_KEYS
    assert after["body"] == "New body"
    unchanged = ("slug", "title", "description", "tagList", "createdAt", "author")
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    assert ok(api.get(f"/articles/{before['slug']}"))["article"]["body"] == "New body"


def test_update_article_description(api: Conduit, user: MakeUser) -> None:
    me = user()
    slug = api.article(me, description="Old")["slug"]

    assert ok(api.update_article(slug, me, description="New"))["article"]["description"] == "New"
    assert ok(api.get(f"/articles/{slug}"))["article"]["description"] == "New"


def test_update_article_title_gives_a_new_slug_and_retires_the_old(
    api: Conduit, user: MakeUser
) -> None:
    me = user()
    old = api.article(me, title="How to train your dragon")

    new = ok(api.update_article(old["slug"], me, title="Did you train your dragon?"))["article"]

    assert new["title"] == "Did you train your dragon?"
    assert new["slug"] != old["slug"]
    assert ok(api.get(f"/articles/{new['slug']}"))["article"]["title"] == new["title"]
    assert_error(api.get(f"/articles/{old['slug']}"), 404, "article", "not found")


def test_update_article_to_another_articles_title_keeps_slugs_distinct(
    api: Conduit, user: MakeUser
) -> None:
    me = user()
    taken = api.article(me, title="Taken", body="the first")
    mine = api.article(me, title="Mine", body="the second")

    renamed = ok(api.update_article(mine["slug"], me, title="Taken"))["article"]

    assert renamed["slug"] != taken["slug"]
    assert ok(api.get(f"/articles/{taken['slug']}"))["article"]["body"] == "the first"
    assert ok(api.get(f"/articles/{renamed['slug']}"))["article"]["body"] == "the second"


def test_update_article_without_tag_list_keeps_the_tags(api: Conduit, user: MakeUser) -> None:
    me = user()
    slug = api.article(me, tagList=["dragons", "training"])["slug"]

    updated = ok(api.update_article(slug, me, title="New title", body="New"))["article"]

    assert updated["tagList"] == ["dragons", "training"]
    renamed = updated["slug"]  # a new title gives a new slug
    assert ok(api.get(f"/articles/{renamed}"))["article"]["tagList"] == ["dragons", "training"]


def test_update_article_with_an_empty_tag_list_clears_the_tags(
    api: Conduit, user: MakeUser
) -> None:
    me = user()
    slug = api.article(me, tagList=["dragons", "training"])["slug"]

    assert ok(api.update_article(slug, me, tagList=[]))["article"]["tagList"] == []
    assert ok(api.get(f"/articles/{slug}"))["article"]["tagList"] == []
    assert ok(api.get("/tags"))["tags"] == []


def test_update_article_with_a_tag_list_replaces_it_in_order(api: Conduit, user: MakeUser) -> None:
    me = user()
    slug = api.article(me, tagList=["dragons", "training"])["slug"]

    updated = ok(api.update_article(slug, me, tagList=["zebra", "dragons", "apple"]))["article"]

    assert updated["tagList"] == ["zebra", "dragons", "apple"]
    assert ok(api.get(f"/articles/{slug}"))["article"]["tagList"] == ["zebra", "dragons", "apple"]


def test_update_article_keeps_created_at_and_moves_updated_at(api: Conduit, user: MakeUser) -> None:
    me = user()
    post = published(me, days_ago=2)
    written = conduit_time(BASE_TIME - timedelta(days=2))

    after = ok(api.update_article(post.slug, me, body="Changed"))["article"]

    assert after["createdAt"] == written
    assert timestamp(after["updatedAt"]) > timestamp(written)
    again = ok(api.get(f"/articles/{post.slug}"))["article"]
    assert (again["createdAt"], again["updatedAt"]) == (written, after["updatedAt"])


@pytest.mark.parametrize("role", EDITOR_ROLES)
def test_editors_and_up_may_update_anyones_article(
    api: Conduit, user: MakeUser, role: Role
) -> None:
    post = published(user())

    response = api.update_article(post.slug, user(role=role), body="Edited")

    assert ok(response)["article"]["body"] == "Edited"


@pytest.mark.parametrize("role", [Role.author, Role.reader])
def test_others_may_not_update_an_article(api: Conduit, user: MakeUser, role: Role) -> None:
    post = published(user(), body="Original")

    response = api.update_article(post.slug, user(role=role), body="Defaced")

    assert_error(response, 403, "article", "forbidden")
    assert ok(api.get(f"/articles/{post.slug}"))["article"]["body"] == "Original"


def test_update_unknown_article_is_404(api: Conduit, user: MakeUser) -> None:
    response = api.update_article("no-such-article", user(role=Role.owner), body="x")

    assert_error(response, 404, "article", "not found")


def test_update_another_authors_draft_is_404(api: Conduit, user: MakeUser) -> None:
    post = draft(user())

    assert_error(api.update_article(post.slug, user(), body="x"), 404, "article", "not found")


def test_update_article_without_a_token_is_401_even_if_it_is_missing(
    api: Conduit, user: MakeUser
) -> None:
    post = published(user())

    assert_unauthenticated(api.update_article(post.slug, None, body="x"))
    assert_unauthenticated(api.update_article("no-such-article", None, body="x"))


@pytest.mark.parametrize("field", ["title", "description", "body"])
def test_update_article_to_a_blank_field_is_422(api: Conduit, user: MakeUser, field: str) -> None:
    me = user()
    slug = api.article(me)["slug"]

    assert_error_on(api.update_article(slug, me, **{field: ""}), 422, field)


def test_update_article_without_the_article_envelope_is_422(api: Conduit, user: MakeUser) -> None:
    me = user()
    slug = api.article(me)["slug"]

    response = api.put(f"/articles/{slug}", me, {"title": "New"})

    assert_error(response, 422, "article", "can't be blank")


# --- DELETE /articles/{slug} ------------------------------------------------------------------


def test_delete_article_answers_204_and_it_is_gone(api: Conduit, user: MakeUser) -> None:
    me = user()
    slug = api.article(me, tagList=["dragons"])["slug"]
    api.comment(slug, me)

    assert_no_content(api.delete(f"/articles/{slug}", me))

    assert_error(api.get(f"/articles/{slug}"), 404, "article", "not found")
    assert_error(api.get(f"/articles/{slug}/comments"), 404, "article", "not found")
    assert ok(api.get("/articles")) == {"articles": [], "articlesCount": 0}
    assert ok(api.get("/tags"))["tags"] == []


@pytest.mark.parametrize("role", EDITOR_ROLES)
def test_editors_and_up_may_delete_anyones_article(
    api: Conduit, user: MakeUser, role: Role
) -> None:
    post = published(user())

    assert_no_content(api.delete(f"/articles/{post.slug}", user(role=role)))
    assert api.get(f"/articles/{post.slug}").status_code == 404


@pytest.mark.parametrize("role", [Role.author, Role.reader])
def test_others_may_not_delete_an_article(api: Conduit, user: MakeUser, role: Role) -> None:
    post = published(user())

    assert_error(api.delete(f"/articles/{post.slug}", user(role=role)), 403, "article", "forbidden")
    assert api.get(f"/articles/{post.slug}").status_code == 200


def test_delete_unknown_article_is_404(api: Conduit, user: MakeUser) -> None:
    response = api.delete("/articles/no-such-article", user(role=Role.owner))

    assert_error(response, 404, "article", "not found")


def test_delete_article_without_a_token_is_401_even_if_it_is_missing(
    api: Conduit, user: MakeUser
) -> None:
    post = published(user())

    assert_unauthenticated(api.delete(f"/articles/{post.slug}"))
    assert_unauthenticated(api.delete("/articles/no-such-article"))
    assert api.get(f"/articles/{post.slug}").status_code == 200


# --- GET /articles ----------------------------------------------------------------------------


def test_list_articles_newest_first_without_bodies(api: Conduit, user: MakeUser) -> None:
    author = user()
    old = published(author, days_ago=3, tags=["b", "a"])
    new = published(user(), days_ago=1)
    middle = published(author, days_ago=2)

    body = ok(api.get("/articles"))

    assert set(body) == {"articles", "articlesCount"}
    assert [item["slug"] for item in body["articles"]] == [new.slug, middle.slug, old.slug]
    assert body["articlesCount"] == 3
    for item in body["articles"]:
        assert set(item) == LIST_ITEM_KEYS
        assert "body" not in item
        assert set(item["author"]) == PROFILE_KEYS
    assert body["articles"][2]["tagList"] == ["b", "a"]
    assert body["articles"][2]["createdAt"] == conduit_time(BASE_TIME - timedelta(days=3))


def test_list_articles_when_there_are_none(api: Conduit) -> None:
    assert ok(api.get("/articles")) == {"articles": [], "articlesCount": 0}


def test_list_articles_pages_with_limit_and_offset(api: Conduit, user: MakeUser) -> None:
    author = user()
    posts = [published(author, days_ago=days) for days in range(5)]  # newest first

    page = ok(api.get("/articles", None, limit=2, offset=1))

    assert [item["slug"] for item in page["articles"]] == [posts[1].slug, posts[2].slug]
    assert page["articlesCount"] == 5
    past_the_end = ok(api.get("/articles", None, limit=2, offset=5))
    assert past_the_end == {"articles": [], "articlesCount": 5}


def test_list_articles_shows_20_by_default(api: Conduit, user: MakeUser) -> None:
    author = user()
    posts = [published(author, days_ago=days) for days in range(21)]

    body = ok(api.get("/articles"))

    assert [item["slug"] for item in body["articles"]] == [post.slug for post in posts[:20]]
    assert body["articlesCount"] == 21


@pytest.mark.parametrize("limit", [1, 100])
def test_list_articles_takes_a_limit_from_1_to_100(
    api: Conduit, user: MakeUser, limit: int
) -> None:
    published(user(), days_ago=1)
    published(user(), days_ago=2)

    body = ok(api.get("/articles", None, limit=limit))

    assert len(body["articles"]) == min(limit, 2)
    assert body["articlesCount"] == 2


@pytest.mark.parametrize(
    ("param", "value"),
    [("limit", "0"), ("limit", "101"), ("limit", "-1"), ("limit", "many"), ("offset", "-1")],
)
@pytest.mark.parametrize("path", ["/articles", "/articles/feed"])
def test_list_articles_refuses_a_bad_limit_or_offset(
    api: Conduit, user: MakeUser, path: str, param: str, value: str
) -> None:
    assert_error_on(api.get(path, user(), **{param: value}), 422, param)


def test_list_articles_by_tag(api: Conduit, user: MakeUser) -> None:
    author = user()
    older = published(author, days_ago=2, tags=["dragons", "training"])
    newer = published(author, days_ago=1, tags=["training"])
    published(author, tags=["cooking"])

    body = ok(api.get("/articles", None, tag="training"))

    assert [item["slug"] for item in body["articles"]] == [newer.slug, older.slug]
    assert body["articlesCount"] == 2
    assert body["articles"][1]["tagList"] == ["dragons", "training"]
    assert ok(api.get("/articles", None, tag="unknown")) == {"articles": [], "articlesCount": 0}


def test_list_articles_by_author(api: Conduit, user: MakeUser) -> None:
    jake, other = user(username="jake"), user()
    older = published(jake, days_ago=2)
    newer = published(jake, days_ago=1)
    published(other)

    body = ok(api.get("/articles", None, author="jake"))

    assert [item["slug"] for item in body["articles"]] == [newer.slug, older.slug]
    assert body["articlesCount"] == 2
    assert {item["author"]["username"] for item in body["articles"]} == {"jake"}


def test_list_articles_favorited_by_someone(api: Conduit, user: MakeUser) -> None:
    jake = user(username="jake")
    liked = published(user(), days_ago=1)
    published(user())
    FavoriteFactory.create(post=liked, user=jake)
    FavoriteFactory.create(post=liked)

    body = ok(api.get("/articles", None, favorited="jake"))

    assert [item["slug"] for item in body["articles"]] == [liked.slug]
    assert body["articlesCount"] == 1
    assert body["articles"][0]["favoritesCount"] == 2


def test_list_articles_with_filters_combined(api: Conduit, user: MakeUser) -> None:
    jake = user(username="jake")
    wanted = published(jake, tags=["dragons"])
    published(jake, tags=["cooking"])
    published(user(), tags=["dragons"])

    body = ok(api.get("/articles", None, author="jake", tag="dragons"))

    assert [item["slug"] for item in body["articles"]] == [wanted.slug]
    assert body["articlesCount"] == 1


def test_list_articles_never_shows_drafts_not_even_to_their_author(
    api: Conduit, user: MakeUser
) -> None:
    author = user(username="jake")
    post = published(author, days_ago=1, tags=["dragons"])
    secret = draft(author, tags=["dragons"])
    FavoriteFactory.create(post=secret, user=author)

    for caller in (None, author):
        for params in ({}, {"author": "jake"}, {"tag": "dragons"}, {"favorited": "jake"}):
            body = ok(api.get("/articles", caller, **params))
            slugs = [item["slug"] for item in body["articles"]]
            assert secret.slug not in slugs, params
            assert body["articlesCount"] == len(slugs), params
    assert api.list_slugs(author) == [post.slug]


def test_list_articles_shows_favorited_and_following_for_the_caller(
    api: Conduit, user: MakeUser
) -> None:
    me, star = user(), user()
    liked = published(star, days_ago=1)
    other = published(user(), days_ago=2)
    FavoriteFactory.create(post=liked, user=me)
    FollowFactory.create(follower=me, followed=star)

    def seen_by(caller: Caller) -> list[tuple[str, bool, int, bool]]:
        items = ok(api.get("/articles", caller))["articles"]
        return [
            (i["slug"], i["favorited"], i["favoritesCount"], i["author"]["following"])
            for i in items
        ]

    assert seen_by(me) == [(liked.slug, True, 1, True), (other.slug, False, 0, False)]
    assert seen_by(None) == [(liked.slug, False, 1, False), (other.slug, False, 0, False)]


def test_list_articles_with_a_bad_token_is_401_not_anonymous(api: Conduit, user: MakeUser) -> None:
    published(user())

    assert_bad_token(api.get("/articles", "not-a-token"))


# --- GET /tags --------------------------------------------------------------------------------


def test_tags_are_those_of_published_articles_most_used_first(api: Conduit, user: MakeUser) -> None:
    author = user()
    published(author, tags=["sql", "python"])
    published(author, tags=["python", "go", "sql"])
    published(author, tags=["python"])
    draft(author, tags=["secret", "go", "go-draft"])

    body = ok(api.get("/tags"))

    assert body == {"tags": ["python", "sql", "go"]}


def test_tags_when_there_are_none(api: Conduit) -> None:
    assert ok(api.get("/tags")) == {"tags": []}


def test_tags_of_a_deleted_article_are_no_longer_listed(api: Conduit, user: MakeUser) -> None:
    me = user()
    slug = api.article(me, tagList=["lonely", "shared"])["slug"]
    published(me, tags=["shared"])

    assert_no_content(api.delete(f"/articles/{slug}", me))

    assert ok(api.get("/tags"))["tags"] == ["shared"]


def test_tags_of_created_articles_are_listed_normalized(api: Conduit, user: MakeUser) -> None:
    api.article(user(), tagList=["Dragons", "training"])

    assert sorted(ok(api.get("/tags"))["tags"]) == ["dragons", "training"]


def test_an_article_of_today_is_listed_before_older_ones(api: Conduit, user: MakeUser) -> None:
    me = user()
    old: Post = published(me, days_ago=1)

    created = api.article(me)

    assert api.list_slugs() == [created["slug"], old.slug]
