"""Evidence files from buyers, kept on disk under ``var/evidence`` and recorded in the store.

A file is checked by its content, not by its name or the type the client declares.
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import messages
from bot.clock import utcnow
from bot.languages import DEFAULT
from bot.messages import text
from bot.refunds.enums import RefundStatus
from bot.refunds.models import Evidence, RefundApplication

ALLOWED_TYPES = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
}


class EvidenceRejected(Exception):
    """A file is too big or not an image/PDF; the message is meant for the buyer."""

    def __init__(self, message: str, *, too_big: bool = False) -> None:
        super().__init__(message)
        self.too_big = too_big


@dataclass(frozen=True)
class StoredEvidence:
    """A recorded evidence file and where it went."""

    id: int
    filename: str
    content_type: str
    size: int
    application_reference: str | None

    def to_json(self) -> dict[str, object]:
        """Return the attachment form kept in the transcript."""
        return {
            "evidence_id": self.id,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "application": self.application_reference,
        }


def sniff_type(data: bytes) -> str | None:
    """Return the content type the bytes themselves show, among the allowed ones."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def check_size(size: int | None, max_bytes: int, *, language: str = DEFAULT) -> None:
    """Raise :class:`EvidenceRejected` (told in ``language``) when ``size`` is over the limit."""
    if size is not None and size > max_bytes:
        raise EvidenceRejected(
            text(
                "evidence.too_big",
                size=messages.size(size, language=language),
                limit=messages.size(max_bytes, language=language),
                language=language,
            ),
            too_big=True,
        )


def store_evidence(
    session: Session,
    *,
    evidence_dir: Path,
    conversation_id: str,
    filename: str,
    data: bytes,
    max_bytes: int,
    language: str = DEFAULT,
) -> StoredEvidence:
    """Keep ``data`` and record it for ``conversation_id``.

    The file is linked at once to the conversation's application when one is waiting for review;
    otherwise it stays unlinked and the submit action links it to the application it creates.

    Raises:
        EvidenceRejected: The file is too big or is not an image or a PDF (told in
            ``language``).
    """
    check_size(len(data), max_bytes, language=language)
    if not data:
        raise EvidenceRejected(text("evidence.empty", language=language))
    content_type = sniff_type(data)
    if content_type is None:
        raise EvidenceRejected(text("evidence.wrong_type", language=language))
    digest = hashlib.sha256(data).hexdigest()
    evidence_dir.mkdir(parents=True, exist_ok=True)
    path = evidence_dir / f"{digest}{ALLOWED_TYPES[content_type]}"
    if not path.exists():
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    application = session.execute(
        select(RefundApplication)
        .where(
            RefundApplication.conversation_id == conversation_id,
            RefundApplication.status == RefundStatus.PENDING_REVIEW.value,
        )
        .order_by(RefundApplication.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    row = Evidence(
        conversation_id=conversation_id,
        application_id=None if application is None else application.id,
        filename=safe_filename(filename, ALLOWED_TYPES[content_type]),
        content_type=content_type,
        size=len(data),
        sha256=digest,
        storage_path=str(path),
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return StoredEvidence(
        id=row.id,
        filename=row.filename,
        content_type=content_type,
        size=row.size,
        application_reference=None if application is None else application.reference,
    )


def acknowledgement(stored: StoredEvidence, *, language: str = DEFAULT) -> str:
    """Return what the buyer is told in ``language`` once a file is kept."""
    if stored.application_reference:
        return text(
            "evidence.attached",
            filename=stored.filename,
            reference=stored.application_reference,
            language=language,
        )
    return text("evidence.kept", filename=stored.filename, language=language)


def safe_filename(name: str, default_suffix: str) -> str:
    """Return a display name without path parts or control characters."""
    # Some clients percent-encode the multipart filename (RFC 7578 allows either).
    name = urllib.parse.unquote(name or "").replace("\\", "/")
    base = re.sub(r"[^\w.\- ()]+", "_", Path(name).name).strip(" ._")[:120]
    return base or f"file{default_suffix}"
