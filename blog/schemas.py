"""Base classes shared by every domain's API shapes."""

from pydantic import BaseModel, ConfigDict


class InputModel(BaseModel):
    """Request bodies: unknown fields are refused (no smuggled ``tenant_id``, ``role``, ``id``)."""

    model_config = ConfigDict(extra="forbid")


def strip_text(value: object) -> object:
    """``BeforeValidator`` trimming surrounding white space from strings (others pass through)."""
    return value.strip() if isinstance(value, str) else value
