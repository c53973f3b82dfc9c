"""Checking and re-encoding uploaded images (Pillow); no database, no HTTP.

The type is decided by the bytes: the file must start with the magic bytes of JPEG, PNG,
WebP or GIF *and* Pillow must read it as that format. Every stored file is re-encoded
from the decoded pixels, so no metadata (EXIF with its GPS position, XMP, comments)
survives; the EXIF orientation is applied to the pixels first.
"""

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageOps

WIDTHS = (400, 800, 1600)
JPEG_QUALITY = 85
WEBP_QUALITY = 80


class ImageRefused(Exception):
    """Base of why an upload is not stored."""


class NotAnImage(ImageRefused):
    """Not a JPEG, PNG, WebP or GIF by its content."""


class TooManyPixels(ImageRefused):
    """More pixels than the limit (a decompression bomb, or just too large)."""


@dataclass(frozen=True, slots=True)
class Format:
    pillow: str
    content_type: str
    ext: str
    magic: tuple[bytes, ...]


FORMATS = {
    "JPEG": Format("JPEG", "image/jpeg", "jpg", (b"\xff\xd8\xff",)),
    "PNG": Format("PNG", "image/png", "png", (b"\x89PNG\r\n\x1a\n",)),
    "GIF": Format("GIF", "image/gif", "gif", (b"GIF87a", b"GIF89a")),
    "WEBP": Format("WEBP", "image/webp", "webp", (b"RIFF",)),
}
CONTENT_TYPES = {format_.ext: format_.content_type for format_ in FORMATS.values()}


@dataclass(frozen=True, slots=True)
class Rendition:
    """One file made from an upload: ``variant`` (``original``, ``w400``…) and its format."""

    variant: str
    data: bytes
    content_type: str
    ext: str
    width: int
    height: int

    @property
    def name(self) -> str:
        """``original``, ``w400``, ``w400-webp``: unique within an upload (a WebP copy of a
        rendition in another format is ``-webp``)."""
        return f"{self.variant}-webp" if self.webp_copy else self.variant

    webp_copy: bool = False


@dataclass(frozen=True, slots=True)
class Processed:
    digest: str  # SHA-256 of the uploaded bytes
    format: Format
    width: int
    height: int
    animated: bool
    renditions: tuple[Rendition, ...]


def sniff(data: bytes) -> Format | None:
    """The accepted format whose magic bytes ``data`` starts with."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return FORMATS["WEBP"]
    for format_ in FORMATS.values():
        if format_.pillow != "WEBP" and data.startswith(format_.magic):
            return format_
    return None


def process(data: bytes, *, max_pixels: int) -> Processed:
    """Check ``data`` and make every file to store: the original re-encoded without
    metadata (and in WebP, up to 1600 px wide), and variants 400/800/1600 px wide (those
    narrower than it) in its format and in WebP. Animated images keep every frame in the
    original and get no variants (a still would lose the animation). CPU-heavy: call it
    in a thread."""
    format_ = sniff(data)
    if format_ is None:
        raise NotAnImage()
    try:
        image = Image.open(io.BytesIO(data), formats=[format_.pillow])
    except Image.DecompressionBombError as exc:
        raise TooManyPixels() from exc
    except Exception as exc:  # a malformed file: Pillow's parsers raise many kinds
        raise NotAnImage() from exc
    # Only the header is read so far: refuse a bomb before decoding a pixel.
    if image.width * image.height > max_pixels:
        raise TooManyPixels()
    try:
        frames = getattr(image, "n_frames", 1)  # reads every frame's header
        animated = frames > 1
        # Every frame is decoded and kept while re-encoding: they count together.
        if image.width * image.height * frames > max_pixels:
            raise TooManyPixels()
        if animated:
            renditions: tuple[Rendition, ...] = (_animated_original(image, format_),)
        else:
            renditions = _stills(image, format_)
    except ImageRefused:
        raise
    except Image.DecompressionBombError as exc:
        raise TooManyPixels() from exc
    except Exception as exc:  # a malformed file: Pillow's decoders raise many kinds
        raise NotAnImage() from exc
    original = renditions[0]
    return Processed(
        digest=hashlib.sha256(data).hexdigest(),
        format=format_,
        width=original.width,
        height=original.height,
        animated=animated,
        renditions=renditions,
    )


def _stills(image: Image.Image, format_: Format) -> tuple[Rendition, ...]:
    image.load()
    upright = _without_metadata(ImageOps.exif_transpose(image))
    # GIF variants are PNG: a palette of 256 colours loses much in a resize.
    variant_format = FORMATS["PNG"] if format_.pillow == "GIF" else format_
    made = [_encode("original", upright, format_)]
    # A WebP of the original only up to the widest variant: past it the widest variant's
    # WebP serves (a 12 Mpx photo's full-size WebP took 2.4 of its 3.3 s of processing).
    if format_.pillow != "WEBP" and upright.width <= WIDTHS[-1]:
        made.append(_encode("original", upright, FORMATS["WEBP"], webp_copy=True))
    for width in WIDTHS:
        if width >= upright.width:
            break
        height = max(1, round(upright.height * width / upright.width))
        resized = upright.resize((width, height), Image.Resampling.LANCZOS)
        made.append(_encode(f"w{width}", resized, variant_format))
        if variant_format.pillow != "WEBP":
            made.append(_encode(f"w{width}", resized, FORMATS["WEBP"], webp_copy=True))
    return tuple(made)


def _without_metadata(image: Image.Image) -> Image.Image:
    """The pixels alone, in a mode every format writes."""
    if image.mode not in ("RGB", "RGBA", "L"):
        transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        image = image.convert("RGBA" if transparent else "RGB")
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    return clean


def _encode(
    variant: str, image: Image.Image, format_: Format, *, webp_copy: bool = False
) -> Rendition:
    buffer = io.BytesIO()
    if format_.pillow == "JPEG":
        image = image.convert("RGB") if image.mode != "RGB" and image.mode != "L" else image
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif format_.pillow == "WEBP":
        image.save(buffer, "WEBP", quality=WEBP_QUALITY)
    else:
        image.save(buffer, format_.pillow)  # optimize=True: 2x the time for ~12% fewer bytes
    return Rendition(
        variant=variant,
        data=buffer.getvalue(),
        content_type=format_.content_type,
        ext=format_.ext,
        width=image.width,
        height=image.height,
        webp_copy=webp_copy,
    )


def _animated_original(image: Image.Image, format_: Format) -> Rendition:
    """Every frame, re-encoded; metadata (comments, EXIF, XMP) left behind."""
    frames = []
    durations = []
    for index in range(getattr(image, "n_frames", 1)):
        image.seek(index)
        frames.append(_without_metadata(image.convert("RGBA")))
        durations.append(image.info.get("duration", 100))
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        format_.pillow,
        save_all=True,
        append_images=frames[1:],
        duration=durations,
        loop=image.info.get("loop", 0),
        disposal=2,
    )
    return Rendition(
        variant="original",
        data=buffer.getvalue(),
        content_type=format_.content_type,
        ext=format_.ext,
        width=frames[0].width,
        height=frames[0].height,
    )
