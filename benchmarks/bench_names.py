"""Recall of listed names written with typos, run-together or in another romanisation.

    .venv/bin/python benchmarks/bench_names.py [--shared ../shared] [--every N]

Every entity of the OFAC 2021 SDN set and the UN Consolidated List (all programs) with a
Latin-script name of two or more words gets one variant per kind (``bot.variants``: exact,
swapped letters, a dropped, doubled or mistyped letter, two edits in a long word, a lost space
or hyphen, a transliteration), placed in a neutral sentence and scanned with both lists loaded.
Prints one JSON object: recall per kind, per kind and entity type, and sample misses.
``--every N`` measures every N-th entity only (quicker).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.lists import load_list  # noqa: E402
from bot.matching.engine import Matcher  # noqa: E402
from bot.namecheck import measure  # noqa: E402
from bot.rulefiles import load_rules  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--every", type=int, default=1)
    args = parser.parse_args()
    sanctions = args.shared / "data" / "sanctions"
    parsed = load_list(
        [
            sanctions / "ofac" / "sdn_2021-07" / "sdn.csv",
            sanctions / "un" / "UN_consolidated_2026-02-27.xml",
        ]
    )
    entities = [entity for parsed_list in parsed for entity in parsed_list.entities]
    matcher = Matcher(load_rules(ROOT / "rules"), entities)
    started = time.perf_counter()
    result = measure(matcher, entities[:: args.every])
    report = result.as_dict()
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
