"""Knowledge-base retrieval: Okapi BM25 over a workspace's entries.

Tokens: NFKD-folded, case-folded runs of unicode word characters, without accents, minus a small
en/de/fr/es stopword list (greetings and thanks included, so "hi, thanks!" has no content), and
minus one-letter tokens. The only stemming is a dropped plural "s" (words over three letters, not
"-ss"); tags carry the synonyms and other inflections an entry should match. Title and tag tokens
count twice, content tokens once.

Scores: BM25 (k1 = 1.2, b = 0.75, idf = ln(1 + (N - df + 0.5) / (df + 0.5))) divided by the
query's ceiling — the sum of idf · (k1 + 1) over its distinct terms that occur in some entry, a
value no entry reaches — and multiplied by √(known terms / distinct query terms). A score is
therefore in [0, 1) and comparable across workspaces and query lengths; the order is plain
BM25. A question about nothing the knowledge base mentions has no results at all.

`confident` is the rule for answering straight from an entry (no model): the best score is at
least CONFIDENT_SCORE and leads the runner-up by at least CONFIDENT_MARGIN. Entries sent to a
model as context need only CONTEXT_SCORE.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

K1 = 1.2
B = 0.75
TITLE_WEIGHT = 2
TAG_WEIGHT = 2
CONFIDENT_SCORE = 0.35
CONFIDENT_MARGIN = 0.1
CONTEXT_SCORE = 0.1

_STOPWORDS_EN = (
    "a an and are as at be but by can could do does did for from have has how i if in is it its "
    "me my of on or our please so that the their them then there these they this to was we "
    "what when where which who why will with would you your yours am been being get got any "
    "about just need want know tell much many hi hello hey thanks thank thx ok okay yes no bye"
)
_STOPWORDS_DE = (
    "der die das den dem des ein eine einer eines einem einen und oder aber ist sind war bin "
    "ich du er sie es wir ihr mich mir dich dir uns euch mein meine dein deine sein ihre zu im "
    "in an auf mit von fur bei aus nach wie was wo wann warum wer nicht kein keine ja nein "
    "hallo danke bitte guten kann konnen habe hat haben"
)
_STOPWORDS_FR = (
    "le la les un une des du de et ou mais est sont je tu il elle nous vous ils elles me te se "
    "mon ma mes ton ta tes son sa ses notre votre leur en au aux avec pour par sur dans que qui "
    "quoi comment quand pourquoi ne pas oui non bonjour salut merci sil plait ce cette ces "
    "puis peux peut avez"
)
_STOPWORDS_ES = (
    "el la los las un una unos unas y o pero es son soy estoy yo tu el ella nosotros vosotros "
    "ellos me te se mi mis su sus nuestro vuestro en con por para sobre de del al que quien "
    "como cuando donde porque no si hola gracias favor puedo puede tengo tiene"
)
# Accent-free, as tokens are compared after folding.
STOPWORDS: frozenset[str] = frozenset(
    " ".join((_STOPWORDS_EN, _STOPWORDS_DE, _STOPWORDS_FR, _STOPWORDS_ES)).split()
)

_WORD = re.compile(r"\w+")


class KnowledgeEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    content: Annotated[str, Field(min_length=1, max_length=8000)]
    tags: Annotated[
        tuple[Annotated[str, Field(min_length=1, max_length=40)], ...], Field(max_length=20)
    ] = ()


class KnowledgeIndex(BaseModel):
    """One workspace's entries with their term statistics; JSON-serialisable, so a Lambda can
    keep it in memory or store it, and rebuild only when `version` changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workspace_id: str
    version: str = ""
    entries: tuple[KnowledgeEntry, ...] = ()
    term_freqs: tuple[dict[str, int], ...] = ()
    lengths: tuple[int, ...] = ()
    doc_freqs: dict[str, int] = Field(default_factory=dict)
    avg_length: float = 0.0


def tokenize(text: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    tokens = []
    for token in _WORD.findall(bare):
        if token in STOPWORDS or (len(token) == 1 and not token.isdigit()):
            continue
        # The one stemming rule: plurals in en/fr/es ("plans" finds "plan"); -ss stays.
        plural = len(token) > 3 and token.endswith("s") and not token.endswith("ss")
        tokens.append(token[:-1] if plural else token)
    return tokens


def has_content(text: str) -> bool:
    """False for small talk ("hi", "thanks!") that is no question for the knowledge base."""
    return bool(tokenize(text))


def _entry_terms(entry: KnowledgeEntry) -> Counter[str]:
    terms: Counter[str] = Counter(tokenize(entry.content))
    for token in tokenize(entry.title):
        terms[token] += TITLE_WEIGHT
    for tag in entry.tags:
        for token in tokenize(tag):
            terms[token] += TAG_WEIGHT
    return terms


def build_index(
    workspace_id: str, entries: Sequence[KnowledgeEntry], version: str = ""
) -> KnowledgeIndex:
    term_freqs = [_entry_terms(entry) for entry in entries]
    lengths = [sum(terms.values()) for terms in term_freqs]
    doc_freqs: Counter[str] = Counter()
    for terms in term_freqs:
        doc_freqs.update(terms.keys())
    return KnowledgeIndex(
        workspace_id=workspace_id,
        version=version,
        entries=tuple(entries),
        term_freqs=tuple(dict(terms) for terms in term_freqs),
        lengths=tuple(lengths),
        doc_freqs=dict(doc_freqs),
        avg_length=(sum(lengths) / len(lengths)) if lengths else 0.0,
    )


def _idf(index: KnowledgeIndex, term: str) -> float:
    count = len(index.entries)
    df = index.doc_freqs.get(term, 0)
    return math.log(1 + (count - df + 0.5) / (df + 0.5))


def search(
    index: KnowledgeIndex | Sequence[KnowledgeEntry], query: str, top_k: int = 3
) -> list[tuple[KnowledgeEntry, float]]:
    """The best `top_k` entries with a score above zero, best first (ties keep entry order)."""
    if not isinstance(index, KnowledgeIndex):
        index = build_index("", index)
    asked = list(dict.fromkeys(tokenize(query)))
    terms = [term for term in asked if term in index.doc_freqs]
    if not terms or top_k <= 0:
        return []
    weights = {term: _idf(index, term) for term in terms}
    # Words no entry contains cannot tell entries apart, so they stay out of the ceiling; the
    # share of the question the knowledge base knows (square-rooted, so a typo or a number costs
    # little) scales the score instead: "call us back" must not match an entry on "us" alone.
    ceiling = sum(weight * (K1 + 1) for weight in weights.values())
    ceiling /= math.sqrt(len(terms) / len(asked))
    average = index.avg_length or 1.0
    scored: list[tuple[float, int]] = []
    for position, (freqs, length) in enumerate(zip(index.term_freqs, index.lengths, strict=True)):
        norm = K1 * (1 - B + B * length / average)
        score = 0.0
        for term, weight in weights.items():
            tf = freqs.get(term, 0)
            if tf:
                score += weight * tf * (K1 + 1) / (tf + norm)
        if score > 0:
            scored.append((score / ceiling, position))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [(index.entries[position], score) for score, position in scored[:top_k]]


def confident(results: Sequence[tuple[KnowledgeEntry, float]]) -> bool:
    """Good enough to answer from the best entry alone: a high score and a clear lead."""
    if not results:
        return False
    best = results[0][1]
    runner_up = results[1][1] if len(results) > 1 else 0.0
    return best >= CONFIDENT_SCORE and best - runner_up >= CONFIDENT_MARGIN


def context_entries(results: Sequence[tuple[KnowledgeEntry, float]]) -> list[KnowledgeEntry]:
    """The entries relevant enough to give a model as context."""
    return [entry for entry, score in results if score >= CONTEXT_SCORE]


class KnowledgeIndexCache:
    """Indexes kept across invocations of a warm Lambda, one per workspace, least recently used
    first out. `load` is called only when the workspace's knowledge `version` changed."""

    def __init__(self, max_workspaces: int = 64) -> None:
        self._max = max_workspaces
        self._indexes: OrderedDict[str, KnowledgeIndex] = OrderedDict()

    def get(
        self,
        workspace_id: str,
        version: str,
        load: Callable[[], Sequence[KnowledgeEntry]],
    ) -> KnowledgeIndex:
        cached = self._indexes.get(workspace_id)
        if cached is not None and cached.version == version:
            self._indexes.move_to_end(workspace_id)
            return cached
        index = build_index(workspace_id, load(), version)
        self._indexes[workspace_id] = index
        self._indexes.move_to_end(workspace_id)
        while len(self._indexes) > self._max:
            self._indexes.popitem(last=False)
        return index
