"""The project's factories live in the package, so testers of the API can use them too."""

from blog.testing.factories import (
    DEFAULT_PASSWORD,
    AccountTokenFactory,
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
)

__all__ = [
    "DEFAULT_PASSWORD",
    "AccountTokenFactory",
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
]
