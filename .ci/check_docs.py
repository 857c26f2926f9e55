#!/usr/bin/env python3
"""Checks that the repository's documentation stands on its own and that its evidence exists.

Usage: python3 .ci/check_docs.py [--paths] [--hazards] [--citations]

Run from anywhere inside the repository (it works from the repository root). With no option every
check runs; with options only the checks named. Exits 0 when every check run passes, 1 with one
line per problem on stderr otherwise, 2 on a usage error. Python 3 standard library only.

Checks:

--paths      No file of the repository (tracked, or new and not ignored) mentions a path outside
             it: the parent-directory path of the old design documents, any path containing the
             word "shared" followed by a slash (so that grep -rn for it finds nothing), the
             absolute path of the machine the project was started on, or an old-style citation of
             the three design documents by their upper-case file names. Cite them as
             docs/domain.md, docs/design.md and docs/style.md instead.

--hazards    Every test the hazard log (docs/clinical-safety/hazard-log.md) names exists, and
             every script it names exists. The log names its evidence on lines containing
             "Tests:"; each backticked item after that marker is one of:
               `name`                  a function with a test attribute (#[test],
                                       #[actix_web::test], #[tokio::test], also inside
                                       proptest!) anywhere under tests/ or src/;
               `path/file.rs::name`    such a function in that file;
               `path/to/script.sh`     (any item with a slash and no ::) a file that exists.
             Every hazard (a "### H-NN" heading) must name at least one.

--citations  Every path under docs/ ending in .md that the repository's files mention exists,
             and every citation "docs/<file>.md §N" names a section N that exists in that file (a heading
             whose text starts with "N." or "N ").
"""

import argparse
import os
import re
import subprocess
import sys

# Built from pieces so that this file does not itself contain what it looks for.
OLD_NAMES = ["DOMAIN", "DESIGN", "STYLE"]
SHARED = "shared" + "/"
FORBIDDEN = [
    (re.compile(re.escape(".." + "/" + "shared")), "a path to the old documents outside the repository"),
    (re.compile(re.escape(SHARED)), "a path containing '" + SHARED + "'"),
    (re.compile(re.escape("/" + "work" + "/")), "an absolute path on the machine the project was started on"),
    (
        re.compile(r"\b(" + "|".join(OLD_NAMES) + r")\.md\b"),
        "an old-style citation of a design document (cite docs/domain.md, docs/design.md, docs/style.md)",
    ),
]

HAZARD_LOG = "docs/clinical-safety/hazard-log.md"
TEST_ATTRIBUTE = re.compile(r"#\[\s*(test|actix_web::test|tokio::test)\b")
FN = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?fn\s+([A-Za-z_][A-Za-z0-9_]*)")
DOC_PATH = re.compile(r"(?<![\w./-])docs/[\w./-]*?\.md\b")
CITATION = re.compile(r"(?<![\w./-])(docs/[\w./-]*?\.md)\s+§\s*(\d+)")
SECTION_HEADING = re.compile(r"^#{1,6}\s+(\d+)(?:[.\s]|$)")


def repository_root():
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as error:
        sys.exit(f"check_docs: not inside a git repository ({error})")
    return out


def repository_files():
    """Tracked files, and new files git does not ignore, that exist in the work tree."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout
    names = sorted({n.decode("utf-8", "surrogateescape") for n in out.split(b"\0") if n})
    return [n for n in names if os.path.isfile(n)]


def read_text(path):
    """The file's text, or None for a binary file."""
    with open(path, "rb") as f:
        data = f.read()
    if b"\0" in data:
        return None
    return data.decode("utf-8", "replace")


def check_paths(files):
    problems = []
    for path in files:
        text = read_text(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for pattern, why in FORBIDDEN:
                match = pattern.search(line)
                if match:
                    problems.append(f"{path}:{number}: {why}: {match.group(0)!r}")
    return problems


def test_functions(files):
    """{name: set of files} for every function with a test attribute under tests/ and src/."""
    found = {}
    for path in files:
        if not path.endswith(".rs") or not (path.startswith("tests/") or path.startswith("src/")):
            continue
        text = read_text(path)
        if text is None:
            continue
        attributed = False
        for line in text.splitlines():
            stripped = line.strip()
            if TEST_ATTRIBUTE.search(stripped):
                attributed = True
                continue
            fn = FN.match(line)
            if fn:
                if attributed:
                    found.setdefault(fn.group(1), set()).add(path)
                attributed = False
                continue
            # Other attributes, doc comments, comments and blank lines may sit between a test
            # attribute and its function; anything else ends the attribute's reach.
            if not (stripped == "" or stripped.startswith("#[") or stripped.startswith("//")):
                attributed = False
    return found


def check_hazards(files):
    if not os.path.isfile(HAZARD_LOG):
        return [f"{HAZARD_LOG}: missing"]
    tests = test_functions(files)
    problems = []
    hazard, cited_in_hazard = None, {}
    with open(HAZARD_LOG, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for number, line in enumerate(lines, 1):
        heading = re.match(r"^###\s+(H-\d+)\b", line)
        if heading:
            hazard = heading.group(1)
            cited_in_hazard.setdefault(hazard, 0)
            continue
        if "Tests:" not in line:
            continue
        for item in re.findall(r"`([^`]+)`", line.split("Tests:", 1)[1]):
            where = f"{HAZARD_LOG}:{number}"
            if hazard is not None:
                cited_in_hazard[hazard] += 1
            if "::" in item:
                file, _, name = item.rpartition("::")
                if name not in tests or file not in tests[name]:
                    problems.append(f"{where}: no test function {name!r} in {file}")
            elif "/" in item:
                if not os.path.exists(item):
                    problems.append(f"{where}: the script {item!r} does not exist")
            elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", item):
                if item not in tests:
                    problems.append(f"{where}: no test function {item!r} under tests/ or src/")
            else:
                problems.append(f"{where}: {item!r} is neither a test name, file::test nor a path")
    if not cited_in_hazard:
        problems.append(f"{HAZARD_LOG}: no hazards (### H-NN headings) found")
    for hazard, count in cited_in_hazard.items():
        if count == 0:
            problems.append(f"{HAZARD_LOG}: hazard {hazard} names no test (a 'Tests:' line)")
    return problems


def sections(path, cache={}):
    if path not in cache:
        numbers = set()
        with open(path, encoding="utf-8") as f:
            in_code = False
            for line in f:
                if line.startswith("```"):
                    in_code = not in_code
                    continue
                heading = None if in_code else SECTION_HEADING.match(line)
                if heading:
                    numbers.add(int(heading.group(1)))
        cache[path] = numbers
    return cache[path]


def check_citations(files):
    problems = []
    for path in files:
        text = read_text(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for match in DOC_PATH.finditer(line):
                if not os.path.isfile(match.group(0)):
                    problems.append(f"{path}:{number}: {match.group(0)} does not exist")
            for match in CITATION.finditer(line):
                doc, section = match.group(1), int(match.group(2))
                if os.path.isfile(doc) and section not in sections(doc):
                    problems.append(f"{path}:{number}: {doc} has no section {section} ({match.group(0)!r})")
    return problems


CHECKS = {"paths": check_paths, "hazards": check_hazards, "citations": check_citations}


def main():
    parser = argparse.ArgumentParser(
        usage="python3 .ci/check_docs.py [--paths] [--hazards] [--citations]",
        description=__doc__.split("\n", 3)[3],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for name in CHECKS:
        parser.add_argument(f"--{name}", action="store_true", help=f"run the {name} check")
    args = parser.parse_args()
    chosen = [name for name in CHECKS if getattr(args, name)] or list(CHECKS)

    os.chdir(repository_root())
    files = repository_files()
    failed = False
    for name in chosen:
        problems = CHECKS[name](files)
        if problems:
            failed = True
            for problem in problems:
                print(f"check_docs --{name}: {problem}", file=sys.stderr)
            print(f"check_docs --{name}: {len(problems)} problem(s)", file=sys.stderr)
        else:
            print(f"check_docs --{name}: ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
