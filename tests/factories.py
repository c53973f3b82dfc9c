"""The project's factories live in the package, so testers of the API can use them too."""

from blog.testing.factories import (
    DEFAULT_PASSWORD,
    AccountTokenFactory,
    ApiKeyFactory,
    AuthSessionFactory,
    CommentFactory,
    FavoriteFactory,
    FollowFactory,
    PostFactory,
    TagFactory,
    TenantFactory,
    UserFactory,
    WebhookDeliveryFactory,
    WebhookEndpointFactory,
    bind_session,
    one_commit,
    plain_key,
)

__all__ = [
    "DEFAULT_PASSWORD",
    "AccountTokenFactory",
    "ApiKeyFactory",
    "AuthSessionFactory",
    "CommentFactory",
    "FavoriteFactory",
    "FollowFactory",
    "PostFactory",
    "TagFactory",
    "TenantFactory",
    "UserFactory",
    "WebhookDeliveryFactory",
    "WebhookEndpointFactory",
    "bind_session",
    "one_commit",
    "plain_key",
]
