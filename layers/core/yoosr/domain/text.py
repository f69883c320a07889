"""Normalising what visitors type."""

from __future__ import annotations

import re
import unicodedata

# Control characters other than tab and newline have no place in a chat message.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
PREVIEW_CHARS = 140


def clean_message_text(text: str) -> str:
    return _CONTROL.sub("", unicodedata.normalize("NFC", text)).strip()


def preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"
