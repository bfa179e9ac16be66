"""Multipart forms read with a bound on everything: the body, each field, the parts, the headers.

aiohttp's multipart reader keeps whatever a part holds (``part.text()`` reads it whole) and
whatever header lines a part has; a chunked body has no length to check first. Here the reader
reads the request's stream through :class:`_Bounded`, which counts every byte and header line,
and every part is read chunk by chunk up to its own limit, so one request can never hold more
than the limits add up to, however it is sent.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from typing import cast

from aiohttp import BodyPartReader, MultipartReader, StreamReader, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.multipart import parse_content_disposition
from multidict import CIMultiDictProxy

from bot import messages
from bot.gateway.inputs import InvalidInput, content_type
from bot.messages import text

#: The most a text field (a session token, a client id) may hold.
FIELD_MAX_BYTES = 1024
#: The most parts a form may have (the widget sends four).
MAX_PARTS = 8
#: The longest header line of a part, and the most lines between two parts' contents.
MAX_HEADER_LINE = 8 * 1024
MAX_HEADER_LINES = 32
#: What a form may hold besides its file: boundaries, part headers, text fields.
OVERHEAD_BYTES = 64 * 1024
CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Form:
    """The text fields of a form (the first of each name) and its one file."""

    fields: dict[str, str] = field(default_factory=dict)
    filename: str = ""
    data: bytes | None = None


def malformed() -> InvalidInput:
    """Return the error of a form that cannot be read."""
    return InvalidInput("malformed", text("upload.malformed"))


def too_big(limit: int) -> InvalidInput:
    """Return the error of a form or file over ``limit`` bytes."""
    return InvalidInput("too_large", text("upload.too_big", limit=messages.size(limit)), status=413)


async def read_form(request: web.Request, *, file_field: str, file_max_bytes: int) -> Form:
    """Read a ``multipart/form-data`` body with one file of at most ``file_max_bytes``.

    Raises:
        InvalidInput: The body is not such a form (400), or something in it is too big (413).
    """
    body_max = file_max_bytes + OVERHEAD_BYTES
    if request.content_length is not None and request.content_length > body_max:
        raise too_big(file_max_bytes)
    if content_type(request) != "multipart/form-data":
        raise InvalidInput("not_multipart", text("upload.not_multipart"))
    stream = _Bounded(request.content, max_bytes=body_max, file_max_bytes=file_max_bytes)
    fields: dict[str, str] = {}
    filename, data = "", None
    try:
        reader = _Reader(request.headers, cast(StreamReader, stream))
        for count in itertools.count(1):
            part = await reader.next()
            if part is None:
                break
            if count > MAX_PARTS or not isinstance(part, BodyPartReader):
                raise malformed()
            name, given_filename = part.name or "", part.filename
            if name == file_field:
                if data is not None:
                    raise malformed()
                data = await _read_part(part, file_max_bytes, too_big(file_max_bytes))
                filename = given_filename or ""
            else:
                long_field = InvalidInput(
                    "field_too_long",
                    text("upload.field_too_long", field=name[:40]),
                    status=413,
                )
                raw = await _read_part(part, FIELD_MAX_BYTES, long_field)
                fields.setdefault(name, raw.decode("utf-8", "replace"))
    except InvalidInput:
        raise
    except (ValueError, LookupError, AssertionError, RuntimeError, HttpProcessingError) as e:
        # aiohttp's reader says "malformed" with all of these (asserts included): a missing or
        # long boundary, a line over its buffer, an unterminated body, an unknown charset.
        raise malformed() from e
    return Form(fields=fields, filename=filename, data=data)


async def _read_part(part: BodyPartReader, max_bytes: int, over: InvalidInput) -> bytes:
    data = bytearray()
    # Chunks no bigger than the limit: the reader reads one ahead to find the boundary.
    while chunk := await part.read_chunk(min(CHUNK_BYTES, max_bytes + 1)):
        data.extend(chunk)
        if len(data) > max_bytes:
            raise over
    return bytes(data)


class _Reader(MultipartReader):
    """aiohttp's reader, refusing a part whose Content-Disposition it can only warn about."""

    def _get_part_reader(self, headers: CIMultiDictProxy[str]) -> MultipartReader | BodyPartReader:
        # aiohttp parses the header again and again (a part's name, its filename), each time
        # with a warning when it is malformed: warnings are not for what clients send.
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            parse_content_disposition(headers.get(hdrs.CONTENT_DISPOSITION))
        if warned:
            raise malformed()
        return super()._get_part_reader(headers)


class _Bounded:
    """The request's stream as the multipart reader reads it: bytes and header lines counted."""

    def __init__(self, content: StreamReader, *, max_bytes: int, file_max_bytes: int) -> None:
        self._content = content
        self._left = max_bytes
        self._file_max_bytes = file_max_bytes
        self._lines = 0

    def _take(self, data: bytes) -> bytes:
        self._left -= len(data)
        if self._left < 0:
            raise too_big(self._file_max_bytes)
        return data

    async def readline(self) -> bytes:
        # aiohttp's own buffer refuses a line over 128 KiB before this sees it.
        line = await self._content.readline()
        self._lines += 1
        if len(line) > MAX_HEADER_LINE or self._lines > MAX_HEADER_LINES:
            raise malformed()
        return self._take(line)

    async def read(self, n: int = -1) -> bytes:
        self._lines = 0
        return self._take(await self._content.read(n if n >= 0 else CHUNK_BYTES))

    def at_eof(self) -> bool:
        return self._content.at_eof()

    def unread_data(self, data: bytes) -> None:
        self._left += len(data)
        self._content.unread_data(data)
