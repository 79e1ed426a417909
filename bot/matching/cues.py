"""What a sentence says about the act it reports: done, alleged, enforced, planned, denied.

The rules find *what* a sentence is about (North Korea, arms, a transfer); these cue classes
say *how* it speaks of it, which is what separates "North Korea shipped shells to Russia" from
"a resolution would ban North Korea from shipping shells". They are word classes of English
reporting, not phrases of any article; the scorer (``scorer``) weighs them with weights fitted
on the labelled corpus.

``enforcement``  an authority acting on a breach: charged, indicted, seized, fined, designated
``breach``       the act described as unlawful or hidden: illicit, smuggled, evaded, spoofed
``policy``       rules being made or unmade: resolution, vote, package, lifted, proposed (a
                 resolution cited as the law broken, "in violation of resolutions", is not)
``hedge``        possibility rather than report: could, may, might, would, if
``future``       not happened yet: will, plans, intends, aims, seeks
``negation``     not, no, never, denied, rejected, without

Words are matched on normalised tokens, by exact form or by stem (``stem*``).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress
from operator import attrgetter

from .normalize import Token

CUE_WORDS: dict[str, tuple[str, ...]] = {
    "enforcement": (
        "charg*",
        "indict*",
        "arrest*",
        "convict*",
        "plead*",
        "pleaded",
        "guilty",
        "sentenc*",
        "prosecut*",
        "seiz*",
        "confiscat*",
        "impound*",
        "detain*",
        "intercept*",
        "forfeit*",
        "penalt*",
        "fined",
        "settle*",
        "settlement",
        "designat*",
        "blacklist*",
        "raid*",
        "complaint",
        "investigat*",
        "probe",
        "panel",
        "experts",
    ),
    "breach": (
        "illicit*",
        "illegal*",
        "unlawful*",
        "smuggl*",
        "evad*",
        "evasion",
        "circumvent*",
        "violat*",
        "breach*",
        "clandestin*",
        "covert*",
        "conceal*",
        "disguis*",
        "falsif*",
        "false",
        "fake",
        "forged",
        "spoof*",
        "launder*",
        "front",
        "shell",
        "dark",
        "secret*",
        "undeclared",
        "transship*",
        "despite",
        "defiance",
        "loophole*",
        "bypass*",
        "allegedly",
        "suspected",
        "covertly",
        "hidden",
    ),
    "policy": (
        "resolution",
        "resolutions",
        "draft*",
        "vote",
        "voted",
        "votes",
        "voting",
        "veto*",
        "adopt*",
        "package",
        "packages",
        "propos*",
        "lift*",
        "eas*",
        "relief",
        "waiver*",
        "licen*",
        "authoriz*",
        "authoris*",
        "announc*",
        "introduc*",
        "extend*",
        "renew*",
        "debat*",
        "negotiat*",
        "talks",
        "summit",
        "legislat*",
        "bill",
        "regulation*",
        "guidance",
        "advisory",
        "mandate",
        "expir*",
        "diplomat*",
        "tighten*",
        "impose*",
        "imposing",
    ),
    "hedge": ("could", "may", "might", "would", "if", "possibl*", "potential*", "risk*"),
    "future": (
        "will",
        "plan",
        "plans",
        "planned",
        "planning",
        "intend*",
        "aim*",
        "seek*",
        "seeks",
        "prepar*",
    ),
    "negation": (
        "not",
        "no",
        "never",
        "denied",
        "denies",
        "deny",
        "denying",
        "rejected",
        "rejects",
        "without",
        "nor",
    ),
}
CLASSES = tuple(CUE_WORDS)


def _compile(words: Sequence[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    exact = frozenset(w for w in words if not w.endswith("*"))
    stems = tuple(w[:-1] for w in words if w.endswith("*"))
    return exact, stems


_COMPILED = {cls: _compile(words) for cls, words in CUE_WORDS.items()}


_WORD_CUES: dict[str, frozenset[str]] = {}  # news repeats its words: each is classed once
_WORD_CUES_SIZE = 200_000  # words remembered; the cache starts afresh beyond this
_NONE: frozenset[str] = frozenset()


def word_cues(norm: str) -> frozenset[str]:
    """The cue classes one normalised word belongs to."""
    found = _WORD_CUES.get(norm)
    if found is None:
        if len(_WORD_CUES) > _WORD_CUES_SIZE:
            _WORD_CUES.clear()
        found = _WORD_CUES[norm] = _classes(norm)
    return found


def _classes(norm: str) -> frozenset[str]:
    return (
        frozenset(
            cls
            for cls, (exact, stems) in _COMPILED.items()
            if norm in exact or norm.startswith(stems)  # startswith takes the stems at once
        )
        or _NONE
    )


# A legal instrument cited as the law broken is not the law being made: "in violation of UN
# Security Council resolutions", "banned under EU regulation 833/2014" report conduct against
# the rules, while "the council adopted a resolution" is policy news.
INSTRUMENTS = frozenset({"resolution", "resolutions", "regulation", "regulations"})
CITING_WORDS = frozenset(
    {"under", "by", "violate", "violates", "violated", "violating", "violation", "violations"}
    | {"breach", "breaches", "breached", "breaching", "contravention", "defiance", "defying"}
    | {"banned", "prohibited", "barred", "forbidden", "outlawed"}
)
CITING_REACH = 5  # "banned by UN Security Council resolutions": four words between
_POLICY = frozenset({"policy"})
_NORM = attrgetter("norm")


def sentence_cues(
    tokens: Sequence[Token], sentence_of_token: Sequence[int], sentences: int
) -> list[frozenset[str]]:
    """The cue classes of every sentence.

    Most words are no cue, so the words are not visited one by one: each word's classes are
    read and the cue words picked out with whole-list steps in C (words never seen before are
    classed on the way), and only those few are visited.
    """
    cues: list[set[str]] = [set() for _ in range(sentences)]
    count = min(len(tokens), len(sentence_of_token))
    norms = list(map(_NORM, tokens[:count]))
    classes: list[frozenset[str] | None] = list(map(_WORD_CUES.get, norms))
    if None in classes:
        for i in [i for i, found in enumerate(classes) if found is None]:
            classes[i] = word_cues(norms[i])
    for i in compress(range(count), classes):  # the words with a class (a non-empty set)
        found = classes[i] or _NONE
        if norms[i] in INSTRUMENTS and _cited(tokens, i, sentence_of_token):
            found = found - _POLICY
        cues[sentence_of_token[i]] |= found
    return [frozenset(c) for c in cues]


def _cited(tokens: Sequence[Token], i: int, sentence_of_token: Sequence[int]) -> bool:
    """Whether a citing word stands shortly before the instrument at ``i``, in its sentence."""
    sentence = sentence_of_token[i]
    for j in range(i - 1, max(-1, i - 1 - CITING_REACH), -1):
        if sentence_of_token[j] != sentence:
            return False
        if tokens[j].norm in CITING_WORDS:
            return True
    return False
