"""Does the visitor ask for a person? A small multilingual keyword list, checked on every typed
message whatever the flow step.

Text is case-folded, accents are removed and punctuation becomes spaces, so "Parlér à un
HUMAIN !" matches "parler a un humain". A message matches when it contains one of PHRASES as
whole words, or when it is short (at most SHORT_WORDS words) and contains one of WORDS — "agent"
alone means a person, "my travel agent lost my booking" does not. "person"/"persona" are only
matched inside phrases: "price per person" is a pricing question.

A false positive hands the conversation to a person, which is the safe direction; negations
("I don't need a human") are not detected.
"""

from __future__ import annotations

import re
import unicodedata

SHORT_WORDS = 4

PHRASES: tuple[str, ...] = (
    # en
    "talk to a human",
    "speak to a human",
    "talk to a person",
    "speak to a person",
    "talk to someone",
    "speak to someone",
    "talk to an agent",
    "speak to an agent",
    "talk to a real person",
    "speak with a human",
    "speak with a person",
    "speak with someone",
    "real person",
    "real human",
    "human agent",
    "live agent",
    "live person",
    "customer service representative",
    "customer support agent",
    # de
    "mit einem menschen",
    "echten menschen",
    "echte person",
    "mit einem mitarbeiter",
    "mit einer mitarbeiterin",
    "mit jemandem sprechen",
    "menschlichen mitarbeiter",
    # fr
    "parler a un humain",
    "parler a une personne",
    "parler a quelqu un",
    "parler a un conseiller",
    "parler a une conseillere",
    "parler a un agent",
    "vrai humain",
    "vraie personne",
    "conseiller humain",
    # es
    "hablar con un humano",
    "hablar con una persona",
    "hablar con alguien",
    "hablar con un agente",
    "hablar con un asesor",
    "persona real",
    "agente humano",
)

WORDS: frozenset[str] = frozenset(
    {
        # en
        "human",
        "agent",
        "operator",
        "representative",
        # de
        "mensch",
        "menschen",
        "mitarbeiter",
        "mitarbeiterin",
        # fr
        "humain",
        "conseiller",
        "conseillere",
        "operateur",
        # es
        "humano",
        "agente",
        "asesor",
        "operador",
    }
)

_NON_WORD = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    """Lower-case words without accents, separated by single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NON_WORD.sub(" ", bare).split())


def wants_human(text: str) -> bool:
    words = normalise(text)
    if not words:
        return False
    padded = f" {words} "
    if any(f" {phrase} " in padded for phrase in PHRASES):
        return True
    tokens = words.split()
    return len(tokens) <= SHORT_WORDS and any(token in WORDS for token in tokens)
