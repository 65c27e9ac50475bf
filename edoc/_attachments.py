"""Attachment payloads: base64 text, usually a ZIP wrapping one file (as the public SDK does).

Decoding is bounded: the base64 length is checked before decoding and a ZIP member is
inflated in chunks against a cap, whatever sizes its headers claim (zip bombs).
"""

from __future__ import annotations

import base64
import binascii
import io
import zipfile
import zlib

from ._errors import AttachmentError

MAX_ATTACHMENT_BYTES = 64 * 1024 * 1024
"""Largest decoded attachment (after unzipping) accepted by default."""

_CHUNK = 256 * 1024
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def decode_base64(encoded: str, *, max_bytes: int = MAX_ATTACHMENT_BYTES) -> bytes:
    """Decode base64 text (line breaks allowed); raise AttachmentError on anything else."""
    compact = "".join(encoded.split())
    if not compact:
        raise AttachmentError("attachment_empty", "the attachment has no content")
    if len(compact) // 4 * 3 > max_bytes:
        raise AttachmentError(
            "attachment_too_large",
            f"the attachment decodes to about {len(compact) // 4 * 3} bytes; "
            f"the limit is {max_bytes}",
        )
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        sample = compact[:40] + ("…" if len(compact) > 40 else "")
        raise AttachmentError(
            "attachment_base64", f"the attachment content is not base64: {sample!r}"
        ) from None


def is_zip(data: bytes) -> bool:
    """Tell whether bytes start like a ZIP archive."""
    return data[:4] in _ZIP_MAGIC


def unwrap(data: bytes, *, name: str | None, max_bytes: int = MAX_ATTACHMENT_BYTES) -> bytes:
    """Return the file inside a one-file ZIP wrapper, or ``data`` when it is not wrapped.

    An attachment whose own name ends in ``.zip`` *is* an archive: it is returned as is,
    unless it is a wrapper holding exactly one ``.zip`` file.
    """
    if not is_zip(data):
        return data
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise AttachmentError("attachment_zip", f"the ZIP archive is unreadable: {exc}") from None
    with archive:
        is_archive = bool(name) and str(name).lower().endswith(".zip")
        if is_archive and not (len(members) == 1 and members[0].filename.lower().endswith(".zip")):
            return data
        if len(members) != 1:
            raise AttachmentError(
                "attachment_zip",
                f"the ZIP wrapper holds {len(members)} entries; expected exactly one file",
            )
        return _read_member(archive, members[0], max_bytes=max_bytes)


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, *, max_bytes: int) -> bytes:
    if member.is_dir():
        raise AttachmentError(
            "attachment_zip", f"the ZIP wrapper holds a directory ({member.filename!r})"
        )
    if member.flag_bits & 0x1:
        raise AttachmentError("attachment_zip", "the ZIP entry is encrypted")
    if member.file_size > max_bytes:
        raise AttachmentError(
            "attachment_too_large",
            f"the ZIP entry declares {member.file_size} bytes; the limit is {max_bytes}",
        )
    out = bytearray()
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(_CHUNK):
                out += chunk
                if len(out) > max_bytes:
                    raise AttachmentError(
                        "attachment_too_large",
                        f"the ZIP entry inflates beyond the limit of {max_bytes} bytes",
                    )
    except AttachmentError:
        raise
    except (
        zipfile.BadZipFile,
        NotImplementedError,
        RuntimeError,
        ValueError,
        OSError,
        EOFError,
        zlib.error,
    ) as exc:
        raise AttachmentError("attachment_zip", f"the ZIP entry is unreadable: {exc}") from None
    return bytes(out)


def wrap(name: str, data: bytes) -> bytes:
    """ZIP ``data`` as a single entry named ``name``, deterministically (fixed entry time)."""
    info = zipfile.ZipInfo(_entry_name(name), date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=6)
    return buffer.getvalue()


def _entry_name(name: str) -> str:
    # The entry name is only a label; keep it a plain file name (no directories).
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return base or "attachment"
