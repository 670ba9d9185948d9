"""Reading a multipart/form-data body, every refusal in the one error shape (``serving.errors``).

Starlette's ``Request.form()`` turns a parse error into its own ``HTTPException(400)`` with no fix and
no field. :func:`read_form` parses with Starlette's parser, but each limit it enforces becomes a
``DomainError`` naming the part: not multipart (415); no boundary, or a body that does not match it
(422 ``invalid_form``); a part's headers over python-multipart's 4 KB (a 10,000-character file name:
422 naming the part, ``photos[i]``); a text part over ``max_part_bytes`` (413 naming it); more files or
text parts than allowed (422). The spooled files are closed when the form is done with, or when
parsing fails. A urlencoded body (what HTTP libraries send when no file is attached) is read as a form
without files, under the same limits, so that the answer is about what it lacks (no photo).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from urllib.parse import unquote_plus

from fastapi import Request
from python_multipart.multipart import parse_options_header
from starlette.datastructures import FormData
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from serving.errors import DomainError

_NAME = re.compile(rb'(?<![a-z])name="([^"]{1,100})"', re.IGNORECASE)  # not filename=


def _invalid(message: str, fix: str, *, field: str | None = None) -> DomainError:
    return DomainError(422, "invalid_form", message, fix=fix, field=field)


def _part_too_large(name: str, limit: int, files: str) -> DomainError:
    return DomainError(
        413,
        "form_part_too_large",
        f"the form part {name!r} is over {limit // 1024} KB",
        field=name,
        fix=f"Send '{name}' as documented (a small JSON object); files go in '{files}' parts, with a "
        "file name.",
    )


def _too_many_fields(limit: int) -> DomainError:
    return _invalid(
        f"the form has more than {limit} text parts", "Send only the documented parts, each once."
    )


class _UrlencodedParser(FormParser):
    """A form without files (what HTTP libraries send when no file is attached): read, so that the
    answer is about what is missing; its limits answered as the multipart ones are."""

    def __init__(self, request: Request, *, files: str, max_fields: int, max_part_bytes: int) -> None:
        super().__init__(
            request.headers, request.stream(), max_fields=max_fields, max_part_size=max_part_bytes
        )
        self.files = files

    def on_field_data(self, data: bytes, start: int, end: int) -> None:
        if self._current_field_size + end - start > self.max_part_size:
            name = unquote_plus(self._field_name.decode("latin-1"))[:100]
            raise _part_too_large(name, self.max_part_size, self.files)
        super().on_field_data(data, start, end)

    def on_field_end(self) -> None:
        if self._current_fields + 1 > self.max_fields:
            raise _too_many_fields(int(self.max_fields))
        super().on_field_end()


class _Parser(MultiPartParser):
    """Starlette's parser, its limits answered as DomainErrors that name the part; ``files`` names the
    field whose parts are files (``photos``), so that the n-th is named ``photos[n]``."""

    def __init__(
        self, request: Request, *, files: str, max_files: int, max_fields: int, max_part_bytes: int
    ) -> None:
        super().__init__(
            request.headers,
            self._remembering(request),
            max_files=max_files,
            max_fields=max_fields,
            max_part_size=max_part_bytes,
        )
        self.files = files
        self.seen: dict[str, int] = {}  # parts whose headers were read, by name
        self.before = b""  # the 8 KB before ``chunk`` (a part's headers may start there)
        self.chunk = b""  # what the parser is reading

    async def _remembering(self, request: Request) -> AsyncIterator[bytes]:
        async with aclosing(request.stream()) as stream:
            async for chunk in stream:
                self.before = (self.before + self.chunk)[-8192:]
                self.chunk = chunk
                yield chunk

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._current_part
        if part.file is None and len(part.data) + end - start > self.max_part_size:
            raise _part_too_large(part.field_name, self.max_part_size, self.files)
        super().on_part_data(data, start, end)

    def on_headers_finished(self) -> None:
        try:
            super().on_headers_finished()
        except MultiPartException as exc:
            if self._current_files > self.max_files:
                raise DomainError(
                    422,
                    "too_many_photos",
                    f"the request has more than {self.max_files} files",
                    field=self.files,
                    fix=f"Send at most {self.max_files} photos per request; add more to the case "
                    "afterwards (POST /v1/cases/{id}/photos).",
                ) from exc
            if self._current_fields > self.max_fields:
                raise _too_many_fields(int(self.max_fields)) from exc
            raise _invalid(
                f"a part of the form has no name ({exc.message})",
                'Give every part a Content-Disposition header with its name="...".',
            ) from exc
        name = self._current_part.field_name
        self.seen[name] = self.seen.get(name, 0) + 1

    def header_too_long(self, boundary: bytes, offset: int | None) -> DomainError:
        """The part whose headers passed python-multipart's limit (at ``offset`` of the current chunk:
        where the header that is too long begins), named from its Content-Disposition."""
        cut = len(self.chunk) if offset is None else offset
        window = self.before + self.chunk[: cut + 512]  # the name comes first in the header
        start = window.rfind(b"--" + boundary, 0, len(self.before) + cut)
        found = _NAME.search(window, max(0, start))
        field = None
        if found:
            name = found.group(1).decode("utf-8", "replace")
            field = f"{name}[{self.seen.get(name, 0)}]" if name == self.files else name
        return _invalid(
            f"{f'the part {field!r}' if field else 'a part of the form'} has a header over 4 KB "
            "(a file name that long?)",
            "Send each file with a short file name (at most 255 characters).",
            field=field,
        )


@asynccontextmanager
async def read_form(
    request: Request, *, files: str, max_files: int, max_fields: int, max_part_bytes: int = 1024 * 1024
) -> AsyncIterator[FormData]:
    """The request's multipart form (see the module docs); its spooled files closed afterwards."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type == b"application/x-www-form-urlencoded":
        form = await _UrlencodedParser(
            request, files=files, max_fields=max_fields, max_part_bytes=max_part_bytes
        ).parse()
        yield form
        return
    if content_type != b"multipart/form-data":
        shown = content_type.decode("latin-1")[:100] or "no Content-Type"
        raise DomainError(
            415,
            "unsupported_media_type",
            f"expected a multipart/form-data body, not {shown!r}",
            fix="Send the photos (and the questionnaire) as multipart/form-data.",
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise _invalid(
            "the Content-Type has no multipart boundary",
            "Send 'Content-Type: multipart/form-data; boundary=...' with the boundary the body uses "
            "(HTTP libraries do it when they build the form).",
        )
    parser = _Parser(
        request, files=files, max_files=max_files, max_fields=max_fields, max_part_bytes=max_part_bytes
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        cause = exc.__cause__
        if cause is not None and "header size" in str(cause):  # python-multipart's MultipartParseError
            raise parser.header_too_long(boundary, getattr(cause, "offset", None)) from exc
        raise _invalid(
            "the body is not multipart data with the boundary its Content-Type names",
            "Build the form with your HTTP library's multipart support, so that the body matches its "
            "Content-Type's boundary.",
        ) from exc
    try:
        yield form
    finally:
        await form.close()
