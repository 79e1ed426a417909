"""Countries in running text: names, official names, codes, demonyms and capitals, with a role.

News rarely writes "the Democratic People's Republic of Korea"; it writes North Korea, the
DPRK, N. Korea, North Korean, Pyongyang. ``data/countries.yaml`` (written for the project)
lists those forms per ISO code. The finder takes the longest form at each position, so
"South Korea" is never read as "Korea", and forms that could mean two countries ("Korea",
"Korean", "Congo") are consumed without being reported: a rule about North Korea must never
fire on a story about South Korea.

Case matters: country names are proper nouns ("Turkey", not "turkey"; "China", not "china"),
and codes count only as written ("US", not "us").

The *role* says which way goods move when the sentence says so: "arms from North Korea",
"North Korea delivered ... into Russia", "North Korean shells" make KP the origin and RU the
destination. Rules on one-way bans ask for a role; two-way bans do not.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .model import CountryMention, Span
from .normalize import Token, norm_tokens
from .refdata import load_yaml, word_set

MAX_WORDS = 7

# Words between a supplier country and its verb that do not break the link ("North Korea has
# reportedly supplied ...", "Iran may be planning to provide ...").
_SKIPPABLE = word_set(
    """
    has have had is was were be been being may might will would could reportedly allegedly also
    already apparently secretly continues continued to planning plans plan began begun started
    start not never had's
    """
)
_TRANSFER_VERBS = (
    "deliver",
    "suppl",
    "ship",
    "sent",
    "send",
    "sold",
    "sell",
    "export",
    "provid",
    "transfer",
    "smuggl",
    "dispatch",
    "gave",
    "give",
    "giv",
    "furnish",
    "trad",
    "load",
)
_ORIGIN_NOUNS = word_set(
    """
    weapon weapons arms missile missiles rocket rockets shell shells munitions ammunition artillery
    drone drones coal oil crude fuel petroleum workers laborers labourers goods seafood textiles
    ore iron steel exports products cargo cargoes troops soldiers shipments shipment equipment
    materiel technology
    """
)
_ORIGIN_PREPOSITIONS = frozenset({"from", "by"})
_DESTINATION_PREPOSITIONS = frozenset({"to", "into", "towards", "toward"})
_LOCATIVE_PREPOSITIONS = frozenset({"in", "inside"})
_SKIPPED_BEFORE = frozenset({"the", "neighbouring", "neighboring"})
_RECIPIENT_MAX_WORDS = 3


@dataclass(frozen=True, slots=True)
class _Form:
    code: str | None  # None: could mean several countries; consumed but never reported
    kind: str
    exact_case: bool
    guarded: bool = False  # also an ordinary word or a person's name: needs a clear context


class CountryFinder:
    """Finds country mentions in tokens; built once from the reference data."""

    def __init__(self, data: dict[str, dict[str, Any]] | None = None) -> None:
        data = data if data is not None else load_yaml("countries.yaml")
        self._forms: dict[tuple[str, ...], _Form] = {}
        self._max_len: dict[str, int] = defaultdict(int)
        self.names: dict[str, str] = {}
        for code, entry in data.items():
            self.names[code] = entry.get("name", code)
            self._add_entry(code, entry)

    def _add_entry(self, code: str, entry: dict[str, Any]) -> None:
        exact = set(entry.get("case_sensitive", []) or [])
        ambiguous = set(entry.get("ambiguous", []) or [])
        own: set[str] = set()
        kinds = (
            ("name", "names"),
            ("code", "codes"),
            ("demonym", "demonyms"),
            ("capital", "capitals"),
            ("port", "ports"),
        )
        for kind, key in kinds:
            forms = list(entry.get(key, []) or [])
            if kind == "name" and entry.get("name"):
                forms.insert(0, entry["name"])
            for form in forms:
                own.add(form)
                exact_case = form in exact or kind == "code"
                self._add(
                    tuple(norm_tokens(form)),
                    _Form(code, kind, exact_case, guarded=form in ambiguous),
                )
        for form in ambiguous - own:
            self._add(tuple(norm_tokens(form)), _Form(None, "ambiguous", False), override=True)

    def _add(self, words: tuple[str, ...], form: _Form, override: bool = False) -> None:
        if not words:
            return
        existing = self._forms.get(words)
        if existing is not None and existing.code != form.code and not override:
            form = _Form(None, "ambiguous", False)  # two countries claim it: trust neither
        self._forms[words] = form
        self._max_len[words[0]] = max(self._max_len[words[0]], len(words))

    def find(
        self,
        text: str,
        tokens: Sequence[Token],
        sentence_of_token: Sequence[int],
        capitals: Sequence[int] | None = None,
    ) -> list[CountryMention]:
        """Every country form in the text, longest first. ``capitals``: the positions of the
        capitalised tokens, when the caller has them (every form starts with a capital or is a
        code)."""
        mentions: list[CountryMention] = []
        count = len(tokens)
        free = 0  # the first token not inside a form already read
        if capitals is None:
            capitals = [i for i, token in enumerate(tokens) if token.cap]
        for i in capitals:
            if i < free:
                continue
            longest = self._max_len.get(tokens[i].norm, 0)
            matched = 0
            for length in range(min(longest, MAX_WORDS, count - i), 0, -1):
                words = tuple(token.norm for token in tokens[i : i + length])
                form = self._forms.get(words)
                if form is None or not _case_ok(form, tokens[i : i + length], text):
                    continue
                if form.guarded and not _clear_context(
                    tokens, i, i + length - 1, sentence_of_token
                ):
                    matched = length
                    break
                if sentence_of_token[i + length - 1] != sentence_of_token[i]:
                    continue
                matched = length
                if form.code is not None:
                    span = Span(tokens[i].start, tokens[i + length - 1].end)
                    mentions.append(
                        CountryMention(
                            code=form.code,
                            matched=text[span.start : span.end],
                            span=span,
                            sentence=sentence_of_token[i],
                            form=form.kind,
                            role=_role(tokens, i, i + length - 1, form.kind, sentence_of_token),
                        )
                    )
                break
            free = i + (matched or 1)
        return mentions


def _case_ok(form: _Form, tokens: Sequence[Token], text: str) -> bool:
    """Proper nouns are capitalised; codes must be written in capitals (or with dots)."""
    first = tokens[0]
    if form.kind == "code" or form.exact_case:
        return all(t.upper or t.dotted or (len(t.norm) == 1 and t.cap) for t in tokens)
    return first.cap


def _clear_context(tokens: Sequence[Token], first: int, last: int, sentence: Sequence[int]) -> bool:
    """A form that is also a word or a name ("Jordan", "Georgia", "Turkey") counts only when
    it stands alone mid-sentence: not first in its sentence (title-case headlines), and with no
    capitalised word glued to it ("Michael Jordan", "Georgia Tech", "Turkey Day")."""
    sent = sentence[first]
    if first == 0 or sentence[first - 1] != sent:
        return False
    before, after = tokens[first - 1], tokens[last + 1] if last + 1 < len(tokens) else None
    if before.cap and before.norm not in {"the", "in", "to", "from", "of"}:
        return False
    return after is None or sentence[last + 1] != sent or not after.cap


def _role(
    tokens: Sequence[Token], first: int, last: int, kind: str, sentence: Sequence[int]
) -> str | None:
    """origin / destination when the words around the mention say which way goods move."""
    sent = sentence[first]
    before = _previous_word(tokens, first, sent, sentence)
    if before in _ORIGIN_PREPOSITIONS:
        return "origin"
    if before in _DESTINATION_PREPOSITIONS or (
        before in _LOCATIVE_PREPOSITIONS and _recipient_before(tokens, first, sent, sentence)
    ):
        return "destination"
    after = last + 1
    if (
        kind == "demonym"
        and after < len(tokens)
        and sentence[after] == sent
        and (
            tokens[after].norm in _ORIGIN_NOUNS
            or (
                after + 1 < len(tokens)
                and tokens[after + 1].norm in _ORIGIN_NOUNS
                and not tokens[after].cap
            )
        )
    ):
        return "origin"
    if _verb_follows(tokens, after, sent, sentence) or (
        tokens[last].possessive and _is_export_word(tokens, after)
    ):
        return "origin"
    if _verb_precedes(tokens, first, sent, sentence):
        return "destination"
    return None


def _recipient_before(
    tokens: Sequence[Token], first: int, sent: int, sentence: Sequence[int]
) -> bool:
    """ "to buyers in Iran", "to a front company in Russia", "sent to work in Russia": what is
    sent to someone or somewhere in the country is sent to the country. Up to three lower-case
    words may stand between "to" and the locative preposition before the mention."""
    j = first - 1
    while j >= 0 and tokens[j].norm in _SKIPPED_BEFORE:
        j -= 1
    j -= 1  # the word before the locative preposition
    for _ in range(_RECIPIENT_MAX_WORDS):
        if j < 1 or sentence[j] != sent or tokens[j].cap or not tokens[j].norm.isalpha():
            return False
        if tokens[j - 1].norm in _DESTINATION_PREPOSITIONS and sentence[j - 1] == sent:
            return True
        j -= 1
    return False


def _previous_word(tokens: Sequence[Token], index: int, sent: int, sentence: Sequence[int]) -> str:
    j = index - 1
    while j >= 0 and sentence[j] == sent and tokens[j].norm in _SKIPPED_BEFORE:
        j -= 1
    return tokens[j].norm if j >= 0 and sentence[j] == sent else ""


@lru_cache(maxsize=50_000)
def _is_transfer_verb(norm: str) -> bool:
    return norm.startswith(_TRANSFER_VERBS) and norm not in {
        "shipyard",
        "shipyards",
        "ships",
        "ship",
    }


def _verb_follows(tokens: Sequence[Token], start: int, sent: int, sentence: Sequence[int]) -> bool:
    """ "North Korea (has reportedly) delivered ...": the country is the supplier."""
    j = start
    while j < len(tokens) and sentence[j] == sent and j - start < 6:
        norm = tokens[j].norm
        if _is_transfer_verb(norm):
            return True
        if norm not in _SKIPPABLE:
            return False
        j += 1
    return False


def _verb_precedes(tokens: Sequence[Token], index: int, sent: int, sentence: Sequence[int]) -> bool:
    """ "... supplied Russia with ...", "sold North Korea ...": the country receives."""
    j = index - 1
    return (
        j >= 0
        and sentence[j] == sent
        and _is_transfer_verb(tokens[j].norm)
        and tokens[j].norm.endswith(("ed", "ing", "sold", "sent", "gave"))
    )


def _is_export_word(tokens: Sequence[Token], index: int) -> bool:
    return index < len(tokens) and tokens[index].norm.startswith(
        ("export", "shipment", "deliver", "sale")
    )
