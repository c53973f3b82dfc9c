"""Conduit API: profiles, following, favorites and the feed.

Written from the RealWorld spec and the adapter's contract: ``{"profile": ...}`` with
``following`` as seen by the caller, idempotent follow and favorite (each answering the
profile or article as it now is), and a feed of followed authors' articles, newest first.
"""

import pytest

from tests.conduit import (
    ARTICLE_KEYS,
    LIST_ITEM_KEYS,
    PROFILE_KEYS,
    Caller,
    Conduit,
    MakeUser,
    assert_bad_token,
    assert_error,
    assert_unauthenticated,
    draft,
    error_of,
    ok,
    published,
)
from tests.factories import FavoriteFactory, FollowFactory

# --- GET /profiles/{username} -----------------------------------------------------------------


def test_profile_anonymously(api: Conduit, user: MakeUser) -> None:
    user(username="jake", bio="I work at statefarm", image="https://x.example/smiley.jpg")

    body = ok(api.get("/profiles/jake"))

    assert body == {
        "profile": {
            "username": "jake",
            "bio": "I work at statefarm",
            "image": "https://x.example/smiley.jpg",
            "following": False,
        }
    }


def test_profile_has_no_email(api: Conduit, user: MakeUser) -> None:
    jake = user(username="jake")

    response = api.get("/profiles/jake", user())

    assert set(ok(response)["profile"]) == PROFILE_KEYS
    assert jake.email not in response.text


def test_profile_shows_whether_the_caller_follows(api: Conduit, user: MakeUser) -> None:
    star, fan, stranger = user(username="jake"), user(), user()
    FollowFactory.create(follower=fan, followed=star)

    def following(caller: Caller) -> bool:
        result: bool = ok(api.get("/profiles/jake", caller))["profile"]["following"]
        return result

    assert (following(fan), following(stranger), following(None), following(star)) == (
        True,
        False,
        False,
        False,
    )


def test_unknown_profile_is_404(api: Conduit, user: MakeUser) -> None:
    user(username="jake")

    assert_error(api.get("/profiles/nobody"), 404, "profile", "not found")


def test_profile_with_a_bad_token_is_401_not_anonymous(api: Conduit, user: MakeUser) -> None:
    user(username="jake")

    assert_bad_token(api.get("/profiles/jake", "not-a-token"))


# --- POST and DELETE /profiles/{username}/follow ----------------------------------------------


def test_follow_and_unfollow_are_idempotent(api: Conduit, user: MakeUser) -> None:
    user(username="jake", bio="Hi")
    fan = user()

    first = api.post("/profiles/jake/follow", fan)
    again = api.post("/profiles/jake/follow", fan)

    for response in (first, again):
        assert ok(response) == {
            "profile": {"username": "jake", "bio": "Hi", "image": None, "following": True}
        }
    assert ok(api.get("/profiles/jake", fan))["profile"]["following"] is True

    gone = api.delete("/profiles/jake/follow", fan)
    gone_again = api.delete("/profiles/jake/follow", fan)

    for response in (gone, gone_again):
        assert ok(response)["profile"]["following"] is False
        assert set(ok(response)["profile"]) == PROFILE_KEYS
    assert ok(api.get("/profiles/jake", fan))["profile"]["following"] is False


def test_unfollowing_someone_never_followed_is_fine(api: Conduit, user: MakeUser) -> None:
    user(username="jake")

    assert ok(api.delete("/profiles/jake/follow", user()))["profile"]["following"] is False


def test_following_yourself_is_422(api: Conduit, user: MakeUser) -> None:
    me = user(username="jake")

    error_of(api.post("/profiles/jake/follow", me), 422)

    assert ok(api.get("/profiles/jake", me))["profile"]["following"] is False


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_following_an_unknown_profile_is_404(api: Conduit, user: MakeUser, method: str) -> None:
    response = api.request(method, "/profiles/nobody/follow", user())

    assert_error(response, 404, "profile", "not found")


@pytest.mark.parametrize("method", ["POST", "DELETE"])
@pytest.mark.parametrize("username", ["jake", "nobody"])
def test_following_without_a_token_is_401_even_for_an_unknown_profile(
    api: Conduit, user: MakeUser, method: str, username: str
) -> None:
    user(username="jake")

    assert_unauthenticated(api.request(method, f"/profiles/{username}/follow"))


# --- POST and DELETE /articles/{slug}/favorite ------------------------------------------------


def test_favorite_and_unfavorite_are_idempotent(api: Conduit, user: MakeUser) -> None:
    fan = user()
    post = published(user())
    FavoriteFactory.create(post=post)

    favorited = [ok(api.post(f"/articles/{post.slug}/favorite", fan)) for _ in range(2)]

    for body in favorited:
        assert set(body["article"]) == ARTICLE_KEYS
        assert body["article"]["slug"] == post.slug
        assert (body["article"]["favorited"], body["article"]["favoritesCount"]) == (True, 2)
    seen = ok(api.get(f"/articles/{post.slug}", fan))["article"]
    assert (seen["favorited"], seen["favoritesCount"]) == (True, 2)

    unfavorited = [ok(api.delete(f"/articles/{post.slug}/favorite", fan)) for _ in range(2)]

    for body in unfavorited:
        assert (body["article"]["favorited"], body["article"]["favoritesCount"]) == (False, 1)
    seen = ok(api.get(f"/articles/{post.slug}", fan))["article"]
    assert (seen["favorited"], seen["favoritesCount"]) == (False, 1)


def test_favorite_answers_the_whole_article(api: Conduit, user: MakeUser) -> None:
    author = user(username="jake")
    post = published(author, body="The body", tags=["dragons"])

    article = ok(api.post(f"/articles/{post.slug}/favorite", user()))["article"]

    assert (article["body"], article["tagList"], article["author"]["username"]) == (
        "The body",
        ["dragons"],
        "jake",
    )


def test_favorited_articles_are_listed_by_who_favorited_them(api: Conduit, user: MakeUser) -> None:
    fan = user(username="fan")
    liked = published(user(), days_ago=2)
    published(user(), days_ago=1)

    api.post(f"/articles/{liked.slug}/favorite", fan)

    assert api.list_slugs(None, favorited="fan") == [liked.slug]
    api.delete(f"/articles/{liked.slug}/favorite", fan)
    assert api.list_slugs(None, favorited="fan") == []


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_favorite_of_an_unknown_article_is_404(api: Conduit, user: MakeUser, method: str) -> None:
    response = api.request(method, "/articles/no-such-article/favorite", user())

    assert_error(response, 404, "article", "not found")


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_favorite_of_someone_elses_draft_is_404(api: Conduit, user: MakeUser, method: str) -> None:
    post = draft(user())

    response = api.request(method, f"/articles/{post.slug}/favorite", user())

    assert_error(response, 404, "article", "not found")


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_favorite_without_a_token_is_401_even_for_an_unknown_article(
    api: Conduit, user: MakeUser, method: str
) -> None:
    post = published(user())

    assert_unauthenticated(api.request(method, f"/articles/{post.slug}/favorite"))
    assert_unauthenticated(api.request(method, "/articles/no-such-article/favorite"))
    assert ok(api.get(f"/articles/{post.slug}"))["article"]["favoritesCount"] == 0


# --- GET /articles/feed -----------------------------------------------------------------------


def test_feed_has_the_articles_of_followed_authors_newest_first(
    api: Conduit, user: MakeUser
) -> None:
    fan, star, other_star, stranger = user(), user(), user(), user()
    FollowFactory.create(follower=fan, followed=star)
    FollowFactory.create(follower=fan, followed=other_star)
    oldest = published(star, days_ago=3)
    newest = published(other_star, days_ago=1)
    middle = published(star, days_ago=2)
    published(stranger)
    draft(star)
    FollowFactory.create(follower=stranger, followed=fan)
    published(fan)

    body = ok(api.get("/articles/feed", fan))

    assert set(body) == {"articles", "articlesCount"}
    assert [item["slug"] for item in body["articles"]] == [newest.slug, middle.slug, oldest.slug]
    assert body["articlesCount"] == 3
    for item in body["articles"]:
        assert set(item) == LIST_ITEM_KEYS
        assert "body" not in item
        assert item["author"]["following"] is True


def test_feed_pages_with_limit_and_offset(api: Conduit, user: MakeUser) -> None:
    fan, star = user(), user()
    FollowFactory.create(follower=fan, followed=star)
    posts = [published(star, days_ago=days) for days in range(4)]  # newest first

    page = ok(api.get("/articles/feed", fan, limit=2, offset=1))

    assert [item["slug"] for item in page["articles"]] == [posts[1].slug, posts[2].slug]
    assert page["articlesCount"] == 4


def test_feed_defaults_to_20_articles(api: Conduit, user: MakeUser) -> None:
    fan, star = user(), user()
    FollowFactory.create(follower=fan, followed=star)
    posts = [published(star, days_ago=days) for days in range(21)]

    body = ok(api.get("/articles/feed", fan))

    assert [item["slug"] for item in body["articles"]] == [post.slug for post in posts[:20]]
    assert body["articlesCount"] == 21


def test_feed_of_someone_who_follows_nobody_is_empty(api: Conduit, user: MakeUser) -> None:
    published(user())

    assert ok(api.get("/articles/feed", user())) == {"articles": [], "articlesCount": 0}


def test_feed_follows_following_through_the_api(api: Conduit, user: MakeUser) -> None:
    fan = user()
    star = user(username="jake")
    post = published(star)

    api.post("/profiles/jake/follow", fan)
    assert [i["slug"] for i in ok(api.get("/articles/feed", fan))["articles"]] == [post.slug]

    api.delete("/profiles/jake/follow", fan)
    assert ok(api.get("/articles/feed", fan))["articles"] == []


def test_feed_shows_favorited_for_the_caller(api: Conduit, user: MakeUser) -> None:
    fan, star = user(), user()
    FollowFactory.create(follower=fan, followed=star)
    post = published(star)
    FavoriteFactory.create(post=post, user=fan)

    item = ok(api.get("/articles/feed", fan))["articles"][0]

    assert (item["favorited"], item["favoritesCount"]) == (True, 1)


def test_feed_needs_a_token(api: Conduit) -> None:
    assert_unauthenticated(api.get("/articles/feed"))


def test_feed_with_a_bad_token_is_401(api: Conduit) -> None:
    assert_bad_token(api.get("/articles/feed", "not-a-token"))
