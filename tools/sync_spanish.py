"""Keep the Spanish edition's code identical to the English lessons' code.

    python tools/sync_spanish.py          # every lesson in lessons/es/
    python tools/sync_spanish.py --check  # exit 1 if a Spanish lesson's code differs (what tests/test_lessons.py checks)

A Spanish lesson (lessons/es/NN_name.py) is the English lesson with its markdown translated: the same cells
in the same order, the code cells character for character but one line, the setup cell's `LANGUAGE = "en"`, which
the Spanish twin has as `LANGUAGE = "es"` (the language of svd-learn's messages: `spanish_code`). After an English
lesson's code changes, run this: it writes each English code cell over its Spanish twin (that line in Spanish) and
keeps the Spanish markdown. It refuses a Spanish lesson whose cells no longer line up with the English ones (a cell
added or removed): translate that cell.
"""

import re
import sys
from pathlib import Path

import jupytext

LESSONS = Path(__file__).resolve().parent.parent / "lessons"
SPANISH = LESSONS / "es"
LANGUAGE_LINE = re.compile(r'^LANGUAGE = "en"', re.MULTILINE)  # the setup cell's one line that differs


def spanish_code(english_source: str) -> str:
    """An English code cell as its Spanish twin has it: the same, with the setup cell's LANGUAGE = "es"."""
    return LANGUAGE_LINE.sub('LANGUAGE = "es"', english_source, count=1)


def cell_kinds(notebook) -> list[str]:
    return [cell.cell_type for cell in notebook.cells]


def sync(spanish_source: Path, check: bool) -> bool:
    """True if the Spanish lesson's code already matched (or, without `check`, now matches) the English one."""
    english = jupytext.read(LESSONS / spanish_source.name)
    spanish = jupytext.read(spanish_source)
    if cell_kinds(english) != cell_kinds(spanish):
        sys.exit(
            f"{spanish_source.relative_to(LESSONS.parent)}: its cells do not line up with lessons/{spanish_source.name} "
            f"({len(spanish.cells)} cells against {len(english.cells)}): translate the cells that were added or removed."
        )
    matched = True
    for english_cell, spanish_cell in zip(english.cells, spanish.cells):
        if english_cell.cell_type == "code" and spanish_code(english_cell.source) != spanish_cell.source:
            matched = False
            spanish_cell.source = spanish_code(english_cell.source)
    if not matched and not check:
        jupytext.write(spanish, spanish_source, fmt="py:percent")
    return matched


def main(check: bool) -> None:
    stale = [source.name for source in sorted(SPANISH.glob("[0-9][0-9]_*.py")) if not sync(source, check)]
    if stale:
        print(("differs from English: " if check else "code copied from English: ") + ", ".join(stale))
    if check and stale:
        sys.exit(1)


if __name__ == "__main__":
    main("--check" in sys.argv[1:])
