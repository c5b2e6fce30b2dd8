"""The article model every stage reads and writes."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any


def hash_text(text: str) -> str:
    """Short stable hash of a text (NFC, whitespace-insensitive): ids and cache keys."""
    normal = unicodedata.normalize("NFC", " ".join(text.split()))
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()[:16]


def content_id(title: str, text: str) -> str:
    """Stable id from the content, so the same story text read twice gets the same id."""
    return hash_text(f"{title.strip()}\n{text}")


@dataclass(frozen=True)
class Article:
    """One news article.

    `origin` says where it was read from (a path, a URL, or ``SOURCE#N`` for entry N of a
    JSONL/CSV/feed collection), so errors and explanations can point back to the input.
    `repaired` names the code page(s) whose mojibake was undone when it was read ("cp1256").
    """

    title: str
    text: str
    language: str | None = None
    url: str | None = None
    source: str | None = None
    published: datetime | None = None
    origin: str = ""
    id: str = ""
    repaired: str | None = None  # the code page(s) title or text had been misread as, if any

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", content_id(self.title, self.text))

    @property
    def full_text(self) -> str:
        """Title and body, the text that is encoded and searched for entities."""
        return f"{self.title}\n\n{self.text}" if self.title else self.text

    def with_language(self, language: str) -> Article:
        return replace(self, language=language)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["published"] = self.published.isoformat() if self.published else None
        return data
