"""Base classes shared by every domain's API shapes."""

from pydantic import BaseModel, BeforeValidator, ConfigDict


class InputModel(BaseModel):
    """Request bodies: unknown fields are refused (no smuggled ``tenant_id``, ``role``, ``id``)."""

    model_config = ConfigDict(extra="forbid")


def strip_text(value: object) -> object:
    """``BeforeValidator`` trimming surrounding white space from strings (others pass through)."""
    return value.strip() if isinstance(value, str) else value


def lower_text(value: object) -> object:
    """``BeforeValidator`` trimming and lower-casing strings, so limits apply to what is stored."""
    return value.strip().lower() if isinstance(value, str) else value


def _reject_null(value: object) -> object:
    if value is None:
        raise ValueError("may be omitted but not null")
    return value


# Partial updates: ``field: Annotated[T | None, NotNull] = None`` may be omitted, not nulled.
NotNull = BeforeValidator(_reject_null)
