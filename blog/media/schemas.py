"""API shapes of media."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import UploadFile
from pydantic import BaseModel, Field

from blog.media.models import ALT_MAX_LENGTH, MediaPurpose
from blog.pagination import Page
from blog.schemas import InputModel, NoNul

AltText = Annotated[
    str,
    NoNul,
    Field(max_length=ALT_MAX_LENGTH, description="What the image shows, for screen readers."),
]


class MediaUpload(BaseModel):
    """The upload form (``multipart/form-data``)."""

    file: UploadFile = Field(description="The image; its type is read from its bytes.")
    alt: AltText = ""
    purpose: MediaPurpose = MediaPurpose.post


class MediaFile(BaseModel):
    """One stored file of an upload: the original or a variant."""

    name: str = Field(
        description="`original`, `w400`, `w800`, `w1600` (only those narrower than the "
        "original), each also as WebP: `w400-webp`…, and `original-webp` for an original "
        "at most 1600 px wide. An animated image has its `original` only.",
        examples=["w800-webp"],
    )
    url: str
    content_type: str
    width: int
    height: int
    bytes: int


class MediaRead(BaseModel):
    id: uuid.UUID
    purpose: MediaPurpose
    url: str = Field(description="The original's URL (re-encoded without metadata).")
    content_type: str
    width: int
    height: int
    bytes: int = Field(description="Of all its files together: what the blog's quota counts.")
    alt: str
    uploaded_by: uuid.UUID | None
    created_at: datetime
    files: list[MediaFile]


class MediaPage(Page[MediaRead]):
    """A page of the blog's media, newest first."""


class MediaUpdate(InputModel):
    alt: AltText
