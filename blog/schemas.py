"""Base classes shared by every domain's API shapes."""

from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

T = TypeVar("T")

NUL_MESSAGE = "must not contain NUL characters"


def _has_nul(value: object) -> bool:
    return isinstance(value, str) and "\x00" in value


def reject_nul(value: T) -> T:
    """``AfterValidator`` refusing text with a NUL character: PostgreSQL cannot store one."""
    if _has_nul(value):
        raise ValueError(NUL_MESSAGE)
    return value


# For query and path parameters (``InputModel`` bodies check every field themselves).
NoNul = AfterValidator(reject_nul)


class InputModel(BaseModel):
    """Request bodies: unknown fields are refused (no smuggled ``tenant_id``, ``role``, ``id``),
    and so is a NUL character in any text (PostgreSQL cannot store one: a 422, not a 500)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _reject_nul(cls, value: object) -> object:
        if any(_has_nul(item) for item in (value if isinstance(value, list) else [value])):
            raise ValueError(NUL_MESSAGE)
        return value


# A ``Field(pattern=...)`` goes before these two in ``Annotated``: they still run first, and
# after them pydantic leaves the pattern out of the OpenAPI schema.
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


def _omittable_schema(schema: dict[str, Any]) -> None:
    """An ``Omittable`` field's JSON schema: its type's, without ``null`` or ``default: null``."""
    schema.pop("default", None)
    variants = [variant for variant in schema.pop("anyOf", []) if variant != {"type": "null"}]
    if len(variants) == 1:
        schema.update(variants[0])
    elif variants:
        schema["anyOf"] = variants


# Partial updates: ``field: Omittable[T] = None`` may be omitted but not null, and the
# OpenAPI schema says so.
Omittable = Annotated[
    T | None, BeforeValidator(_reject_null), Field(json_schema_extra=_omittable_schema)
]
