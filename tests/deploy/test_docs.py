"""The repository stands on its own: every file the code and the docs cite exists in it, every section
they cite exists, and nothing cites a design file that lives outside it."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Where citations are looked for.
CITING_GLOBS = ("deskpi/**/*.py", "tests/**/*.py", "README.md", "docs/*.md", "hardware/*.md", "web/README.md")
#: A citation of a file in the repository starts with one of its top-level folders.
TOP_DIRS = ("deskpi", "docs", "hardware", "web", "tests", "systemd", "ansible", "contrib")
CANDIDATE = re.compile("(?:" + "|".join(TOP_DIRS) + r")/[\w./-]*\w")
#: A character right before the folder name that makes it part of something else: a longer name,
#: an absolute path (/etc/deskpi/...), a URL, a home or variable path.
NOT_A_START = re.compile(r"[\w/.~$@-]")
MD_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
SECTION_CITE = re.compile(r"(docs/[\w-]+\.md),?\s+\"([^\"\n]+)\"")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)

#: Design notes that were never part of the repository; built here so this file does not cite them.
OUTSIDE_NOTES = tuple(name + ".md" for name in ("DESIGN", "STYLE"))
TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".html", ".js", ".css", ".yml", ".yaml", ".ini", ".sh", ".service",
                 ".cfg", ".json", ".webmanifest", ".svg"}
SKIP_DIRS = {"__pycache__", "node_modules", "build", "dist", "demo-data"}


def citing_files() -> list[Path]:
    files = {p for pattern in CITING_GLOBS for p in ROOT.glob(pattern) if p.is_file()}
    return sorted(files)


def repo_paths(text: str) -> list[tuple[int, str]]:
    """(line, path) for every repo-relative path in `text`, e.g. deskpi/hw/drives.py or ./systemd/install.sh."""
    found = []
    for m in CANDIDATE.finditer(text):
        before = text[:m.start()]
        if before.endswith("./") and not before.endswith("../"):
            pass                                    # ./systemd/install.sh: relative to the repository
        elif before and NOT_A_START.match(before[-1]):
            continue
        found.append((text.count("\n", 0, m.start()) + 1, m.group(0)))
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def headings(md: Path) -> list[str]:
    text = re.sub(r"^```.*?^```", "", md.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    return [re.sub(r"[`*]", "", h) for h in HEADING.findall(text)]


def is_mqtt_topic(path: str) -> bool:
    """deskpi/desk-12/height is an MQTT topic (the default base topic is deskpi/<desk id>), not a path:
    it names no folder of the package and no file (no segment with a suffix)."""
    parts = path.split("/")
    return (parts[0] == "deskpi" and len(parts) > 1 and not (ROOT / "deskpi" / parts[1]).exists()
            and not any("." in part for part in parts[1:]))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_the_scan_finds_the_citations_it_is_meant_to() -> None:
    text = ("see deskpi/hw/drives.py, (docs/ARCHITECTURE.md) and `sudo ./systemd/install.sh`; "
            "not /etc/deskpi/deskpi.toml, https://example.org/web/x.js or ~/deskpi/y.py")
    assert [p for _, p in repo_paths(text)] == ["deskpi/hw/drives.py", "docs/ARCHITECTURE.md",
                                                 "systemd/install.sh"]
    assert slug("Who may import whom") == "who-may-import-whom"
    assert is_mqtt_topic("deskpi/desk-12/height/set") and not is_mqtt_topic("deskpi/daemon/root.py")
    assert not is_mqtt_topic("docs/ARCHITECTURE.md") and not is_mqtt_topic("deskpi/hw")
    assert slug("EN 527-1 ranges") == "en-527-1-ranges"


def test_there_are_files_to_check() -> None:
    names = {rel(p) for p in citing_files()}
    assert {"README.md", "docs/ARCHITECTURE.md", "docs/ERGONOMICS.md", "deskpi/daemon/root.py"} <= names


def test_every_cited_repo_path_exists() -> None:
    missing = [f"{rel(src)}:{line}: {path}"
               for src in citing_files()
               for line, path in repo_paths(src.read_text(encoding="utf-8"))
               if not (ROOT / path).exists() and not is_mqtt_topic(path)]
    assert not missing, "cited but not in the repository:\n  " + "\n  ".join(missing)


def test_every_markdown_link_to_a_file_or_heading_resolves() -> None:
    problems = []
    for md in [p for p in citing_files() if p.suffix == ".md"]:
        for target in MD_LINK.findall(md.read_text(encoding="utf-8")):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):          # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            dest = (md.parent / path).resolve() if path else md
            if not dest.exists() or ROOT not in (dest, *dest.parents):
                problems.append(f"{rel(md)}: ({target}) is not a file in the repository")
            elif anchor and dest.suffix == ".md" and anchor not in {slug(h) for h in headings(dest)}:
                problems.append(f"{rel(md)}: ({target}) names no heading of {rel(dest)}")
    assert not problems, "\n".join(problems)


def test_every_cited_docs_section_exists() -> None:
    problems = []
    for src in citing_files():
        for doc, section in SECTION_CITE.findall(src.read_text(encoding="utf-8")):
            target = ROOT / doc
            if target.exists() and section.lower() not in {h.lower() for h in headings(target)}:
                problems.append(f'{rel(src)}: {doc} "{section}" is not a heading there')
    assert not problems, "\n".join(problems)


def test_the_ergonomics_and_architecture_docs_are_cited_by_the_code() -> None:
    code = "\n".join(p.read_text(encoding="utf-8") for p in ROOT.glob("deskpi/**/*.py"))
    assert "docs/ERGONOMICS.md" in code


def test_every_package_is_described_in_the_architecture_doc() -> None:
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    packages = sorted(rel(p.parent) for p in (ROOT / "deskpi").rglob("__init__.py") if p.parent != ROOT / "deskpi")
    assert packages
    undocumented = [p for p in packages if f"`{p}/`" not in doc]
    assert not undocumented, f"packages missing from docs/ARCHITECTURE.md: {undocumented}"


def _text_files() -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames
                       if not d.startswith(".") and d not in SKIP_DIRS and not d.endswith(".egg-info")]
        for name in filenames:
            p = Path(dirpath) / name
            if p.suffix in TEXT_SUFFIXES or name == "Makefile":
                out.append(p)
    return out


@pytest.mark.parametrize("note", OUTSIDE_NOTES)
def test_nothing_cites_design_notes_kept_outside_the_repository(note: str) -> None:
    citing = [rel(p) for p in _text_files() if note in p.read_text(encoding="utf-8", errors="replace")]
    assert not citing, f"{note} is not in the repository; cite docs/ instead: {citing}"


def test_the_example_config_says_only_the_named_preset_grants_the_claim() -> None:
    """Since issue 11 the phone names one preset, drawn at random; an unrelated press grants nothing."""
    text = " ".join((ROOT / "deskpi.example.toml").read_text().split())
    assert "any preset button" not in text
    assert "the one preset button the phone names" in text
