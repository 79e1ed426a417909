"""Misspelt, transliterated and run-together forms of listed names, for measuring recall.

News writes listed names the way people type them: a letter dropped or doubled, two letters
swapped, a space or hyphen lost, another romanisation. ``variants`` makes one such form of a
name per *kind*, deterministically (seeded by the entity key, so every run measures the same
forms), with the edit placed in any word of the name, not only the rarest; ``sentence`` puts
it in a neutral sentence of the kind a report would carry. ``sanctions-bot eval-names`` (and
``benchmarks/bench_names.py``) scan each sentence and report recall per kind.

Pure: names in, strings out.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

from bot.matching.model import Entity, EntityType, Name, NameKind

KINDS = ("exact", "swap", "drop", "double", "substitute", "two-edits", "join", "transliteration")
ONE_EDIT_KINDS = ("swap", "drop", "double", "substitute")

# Letters a typist hits instead of the intended one (QWERTY neighbours, vowels for vowels).
_NEIGHBOURS = {
    "a": "se",
    "b": "vn",
    "c": "xv",
    "d": "sf",
    "e": "wr",
    "f": "dg",
    "g": "fh",
    "h": "gj",
    "i": "uo",
    "j": "hk",
    "k": "jl",
    "l": "k",
    "m": "n",
    "n": "bm",
    "o": "ip",
    "p": "o",
    "q": "w",
    "r": "et",
    "s": "ad",
    "t": "ry",
    "u": "yi",
    "v": "cb",
    "w": "qe",
    "x": "zc",
    "y": "tu",
    "z": "x",
}
# Romanisation differences that real reporting shows (one applied per variant).
_TRANSLITERATIONS: tuple[tuple[str, str], ...] = (
    (r"(?<=[a-z])iy$", "y"),
    (r"(?<=[a-z])y$", "i"),
    (r"^ye", "e"),
    (r"^e(?=v)", "ye"),
    (r"kh", "h"),
    (r"zh", "j"),
    (r"ou", "u"),
    (r"u(?=n$)", "oo"),
    (r"ts", "tz"),
    (r"(?<=[a-z])ei", "ey"),
    (r"sh", "sch"),
    (r"j", "dj"),
    (r"q", "k"),
    (r"ck", "k"),
    (r"ph", "f"),
    (r"(?<=[aeiou])i(?=[aeiou])", "y"),
    (r"(?<=[a-z])ii$", "y"),
    (r"yu", "iu"),
    (r"ya", "ia"),
)
_TEMPLATES = {
    EntityType.PERSON: (
        "Officials said on Monday that {name} had travelled to the region twice this year.",
        "According to the filing, {name} signed the contract on behalf of the buyer.",
        "A spokesman declined to say when {name} last met the delegation.",
    ),
    EntityType.VESSEL: (
        "Satellite images showed the vessel {name} anchored off the coast for three days.",
        "The tanker {name} switched off its transponder after leaving port.",
    ),
    EntityType.AIRCRAFT: ("The aircraft {name} landed at the airport late on Tuesday.",),
}
_ORGANIZATION_TEMPLATES = (
    "Documents reviewed by reporters show that {name} paid the invoices in several instalments.",
    "The ministry said {name} had opened an office in the capital last spring.",
    "A person familiar with the matter said {name} was among the bidders.",
)
_WORD_RE = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class Variant:
    entity_key: str
    entity_type: EntityType
    kind: str
    listed: str  # the name as written naturally (title case, given names first)
    written: str  # the form put in the sentence
    sentence: str


def natural(name: Name, entity_type: EntityType) -> str:
    """A listed name as an article writes it: "KIM, Chol Su" -> "Chol Su Kim", title case."""
    text = name.text.replace('"', "").strip()
    if entity_type is EntityType.PERSON and "," in text:
        surname, _, given = text.partition(",")
        text = f"{given.strip()} {surname.strip()}"
    return " ".join(_title(word) for word in text.split())


def _title(word: str) -> str:
    """Title case, keeping short all-consonant words (acronyms) and Roman numerals upper-case."""
    letters = re.sub(r"[^A-Za-z]", "", word)
    if letters.isupper() and (len(letters) <= 4 and not re.search(r"[AEIOUY]", letters)):
        return word
    return "-".join(part[:1].upper() + part[1:].lower() for part in word.split("-"))


def variants(entity: Entity, kinds: tuple[str, ...] = KINDS) -> Iterator[Variant]:
    """One variant of the entity's main name per kind that applies to it."""
    name = _main_name(entity)
    if name is None:
        return
    listed = natural(name, entity.type)
    rng = random.Random(entity.key)
    templates = _TEMPLATES.get(entity.type, _ORGANIZATION_TEMPLATES)
    template = templates[rng.randrange(len(templates))]
    for kind in kinds:
        written = _make(kind, listed, random.Random(f"{entity.key}/{kind}"))
        if written is not None and (kind == "exact" or written != listed):
            yield Variant(
                entity.key, entity.type, kind, listed, written, template.format(name=written)
            )


def _main_name(entity: Entity) -> Name | None:
    """The first strong Latin-script name with at least two words of three letters or more."""
    for name in entity.names:
        if name.kind is NameKind.WEAK or not name.text.isascii():
            continue
        if len([w for w in _WORD_RE.findall(name.text) if len(w) >= 3]) >= 2:
            return name
    return None


def _make(kind: str, listed: str, rng: random.Random) -> str | None:
    if kind == "exact":
        return listed
    if kind == "join":
        return _join(listed, rng)
    if kind == "transliteration":
        return _transliterate(listed, rng)
    words = listed.split(" ")
    editable = [
        i for i, w in enumerate(words) if len(_letters(w)) >= (8 if kind == "two-edits" else 4)
    ]
    if not editable:
        return None
    i = editable[rng.randrange(len(editable))]
    if kind == "two-edits":
        once = _edit(rng.choice(ONE_EDIT_KINDS), words[i], rng)
        words[i] = _edit(rng.choice(ONE_EDIT_KINDS), once, rng)
    else:
        words[i] = _edit(kind, words[i], rng)
    return " ".join(words)


def _letters(word: str) -> str:
    return re.sub(r"[^A-Za-z]", "", word)


def _edit(kind: str, word: str, rng: random.Random) -> str:
    """One typing mistake inside a word, never on its first letter (capitals anchor names)."""
    positions = [i for i in range(1, len(word)) if word[i].isalpha()]
    if not positions:
        return word
    i = positions[rng.randrange(len(positions))]
    if kind == "swap":
        i = max(1, min(i, len(word) - 2))
        if word[i] == word[i + 1] or not word[i + 1].isalpha():
            return _edit("substitute", word, rng)
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    replacement = rng.choice(_NEIGHBOURS.get(word[i].lower(), "e"))
    return word[:i] + replacement + word[i + 1 :]


def _join(listed: str, rng: random.Random) -> str | None:
    """A hyphen or one space between two words lost ("Jong-un" -> "Jongun", "Tan Chon" -> "Tanchon")."""
    if "-" in listed:
        at = [m.start() for m in re.finditer("-", listed)]
        i = at[rng.randrange(len(at))]
        return listed[:i] + listed[i + 1 :].lower()[:1] + listed[i + 2 :]
    words = listed.split(" ")
    pairs = [i for i in range(len(words) - 1) if words[i].isalpha() and words[i + 1].isalpha()]
    if not pairs:
        return None
    i = pairs[rng.randrange(len(pairs))]
    return " ".join([*words[:i], words[i] + words[i + 1].lower(), *words[i + 2 :]])


def _transliterate(listed: str, rng: random.Random) -> str | None:
    words = listed.split(" ")
    options = [
        (i, pattern, replacement)
        for i, word in enumerate(words)
        for pattern, replacement in _TRANSLITERATIONS
        if len(word) >= 4 and re.search(pattern, word[1:].lower())
    ]
    if not options:
        return None
    i, pattern, replacement = options[rng.randrange(len(options))]
    word = words[i]
    changed = word[0] + re.sub(pattern, replacement, word[1:].lower(), count=1)
    words[i] = changed[:1].upper() + changed[1:]
    return " ".join(words)
