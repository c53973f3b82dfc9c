from blog.errors import Conflict, InvalidInput, NotFound


class EndpointNotFound(NotFound):
    code = "webhook_endpoint_not_found"
    detail = "No such webhook endpoint."


class DeliveryNotFound(NotFound):
    code = "webhook_delivery_not_found"
    detail = "No such webhook delivery."


class InvalidWebhookUrl(InvalidInput):
    code = "invalid_webhook_url"
    detail = "A webhook URL is http:// or https://, with a host and no user name or password."


class WebhookUrlNotAllowed(InvalidInput):
    """SSRF: the URL's host is (or resolves to) an address inside the network."""

    code = "webhook_url_not_allowed"
    detail = (
        "The webhook URL's host is a loopback, private, link-local, multicast, reserved or "
        "unspecified address; webhooks go to public addresses only."
    )


class DeliveryPending(Conflict):
    code = "webhook_delivery_pending"
    detail = "This delivery is still pending: it is sent (or retried) already."


class EndpointInactive(Conflict):
    code = "webhook_endpoint_inactive"
    detail = "This endpoint is switched off: switch it on to send to it."
