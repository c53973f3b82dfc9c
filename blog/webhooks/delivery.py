"""Sending a delivery: the ``webhook.deliver`` job.

Each attempt is signed anew (same ``webhook-id``, the current ``webhook-timestamp``),
POSTed with httpx to the address checked just before (see :mod:`blog.webhooks.addresses`),
without following redirects, within ``webhooks_timeout_seconds``, reading at most
``webhooks_max_response_bytes`` of the answer. A 2xx answer delivers it; anything else is
recorded on the delivery and retried by the job runner: up to :data:`ATTEMPTS` attempts,
waiting 30 s, 1, 2, 4, 8, 16 and 32 min (each ±25%) between them, about an hour in all;
then the delivery is ``failed`` (an admin may replay it).
"""

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlmodel import Session, col, select

from blog.database import utcnow
from blog.jobs import JobContext, RetryLater, handler
from blog.settings import Settings
from blog.webhooks import addresses, signing
from blog.webhooks.exceptions import InvalidWebhookUrl, WebhookUrlNotAllowed
from blog.webhooks.models import (
    ERROR_MAX_LENGTH,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)

logger = logging.getLogger(__name__)

DELIVER = "webhook.deliver"
ATTEMPTS = 8
BACKOFF_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 3600.0
USER_AGENT = "blog-webhooks (Standard Webhooks)"


@dataclass(frozen=True)
class Outcome:
    """One attempt: the answer's status code (None when there was none), and what went
    wrong in a few words (never the payload or a secret)."""

    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The endpoint's secret, and the one it replaced while that still signs."""
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        return [endpoint.secret, endpoint.previous_secret]
    return [endpoint.secret]


def send(
    endpoint: WebhookEndpoint, delivery: WebhookDelivery, *, settings: Settings, now: datetime
) -> Outcome:
    """Make one attempt at ``delivery``; its outcome (this raises nothing for the network)."""
    try:
        target = addresses.target(
            endpoint.url, allow_private=settings.webhooks_allow_private_addresses
        )
    except WebhookUrlNotAllowed:
        return Outcome(None, "refused: the host is an internal address")
    except InvalidWebhookUrl:
        return Outcome(None, "refused: not a valid webhook URL")
    except (OSError, UnicodeError):
        return Outcome(None, "the host does not resolve")
    body = body_of(delivery)
    headers = {
        **signing.headers(
            signing_secrets(endpoint, now),
            msg_id=delivery.id,
            timestamp=int(time.time()),  # when it is sent, whatever time the job runs as of
            body=body,
        ),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "host": target.host,
    }
    extensions = {"sni_hostname": target.server_name} if target.pinned else {}
    timeout = settings.webhooks_timeout_seconds
    deadline = time.monotonic() + timeout
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client,
            client.stream(
                "POST", target.url, content=body, headers=headers, extensions=extensions
            ) as response,
        ):
            _read_some(response, settings.webhooks_max_response_bytes, deadline)
            code = response.status_code
    except httpx.TimeoutException:
        return Outcome(None, "timed out")
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError, ValueError) as error:
        return Outcome(None, f"request failed ({type(error).__name__})")
    return Outcome(code, None if 200 <= code < 300 else f"HTTP {code}")


def _read_some(response: httpx.Response, limit: int, deadline: float) -> int:
    """Read the answer up to ``limit`` bytes (one network read beyond, at most) or the
    deadline, whichever comes first; the rest is never downloaded (the connection is
    closed). How much was read."""
    read = 0
    if limit <= 0:
        return read
    for chunk in response.iter_raw():
        read += len(chunk)
        if read >= limit:
            break
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("the answer took too long", request=response.request)
    return read


def record(delivery: WebhookDelivery, outcome: Outcome, *, last: bool) -> None:
    """Log the attempt on the delivery; ``last``: no retry follows a failure."""
    now = utcnow()
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error[:ERROR_MAX_LENGTH] if outcome.error else None
    if outcome.delivered:
        delivery.status = DeliveryStatus.delivered
        delivery.delivered_at = now
    elif last:
        delivery.status = DeliveryStatus.failed


@handler(
    DELIVER,
    attempts=ATTEMPTS,
    backoff_seconds=BACKOFF_SECONDS,
    max_backoff_seconds=MAX_BACKOFF_SECONDS,
)
def deliver_job(session: Session, job: JobContext) -> None:
    delivery = session.exec(
        select(WebhookDelivery).where(col(WebhookDelivery.id) == str(job.payload["delivery_id"]))
    ).first()
    if delivery is None or delivery.status != DeliveryStatus.pending:
        return  # its endpoint was deleted (and it with it), or it is settled already
    endpoint = session.exec(
        select(WebhookEndpoint).where(col(WebhookEndpoint.id) == delivery.endpoint_id)
    ).one()
    if not endpoint.is_active:
        delivery.status = DeliveryStatus.failed
        delivery.last_error = "not sent: the endpoint is switched off"
        session.add(delivery)
        return
    outcome = send(endpoint, delivery, settings=job.settings, now=job.now)
    record(delivery, outcome, last=job.attempt >= ATTEMPTS)
    session.add(delivery)
    if not outcome.delivered:
        _log_failure(job.tenant_id, delivery, outcome, job.attempt)
        raise RetryLater(outcome.error or "not delivered")


def _log_failure(
    tenant_id: uuid.UUID, delivery: WebhookDelivery, outcome: Outcome, attempt: int
) -> None:
    logger.info(
        "webhook %s (tenant %s, endpoint %s) attempt %d of %d: %s",
        delivery.id,
        tenant_id,
        delivery.endpoint_id,
        attempt,
        ATTEMPTS,
        outcome.error,
    )
