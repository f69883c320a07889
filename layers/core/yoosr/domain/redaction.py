"""Card-like numbers never reach storage: Luhn-valid runs of 13–19 digits are replaced."""

from __future__ import annotations

import re

REDACTED_CARD = "[card number removed]"

# Digits, optionally separated by single spaces or hyphens, as people type card numbers.
_CANDIDATE = re.compile(r"(?<![\d])\d(?:[ -]?\d){12,18}(?![\d])")


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _replace(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        return REDACTED_CARD
    return match.group(0)


def redact_card_numbers(text: str) -> str:
    return _CANDIDATE.sub(_replace, text)
