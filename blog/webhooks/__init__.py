"""Outbound webhooks, signed per Standard Webhooks: endpoints, events, deliveries."""
