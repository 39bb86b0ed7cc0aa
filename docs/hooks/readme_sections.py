"""MkDocs hook: pages include sections of README.md, so the site and the README never say different things.

A line ``<!-- readme: Calendar export -->`` in a page is replaced by that section of README.md: its heading
and everything under it, up to the next heading of the same or a higher level. The section's heading becomes
a level-2 heading of the page and its subsections follow it. A section that README.md no longer has stops
the build (a renamed heading must be renamed here too).

Links between README sections (``[Calendar export](#calendar-export)``) point to the page that includes the
target section; an anchor that no page includes is left as it is, and MkDocs' anchor check (mkdocs.yml,
``validation``) reports it.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from markdown.extensions.toc import slugify
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files

MARKER = re.compile(r"^<!-- readme: (?P<title>.+?) -->$", re.MULTILINE)
HEADING = re.compile(r"^(?P<hashes>#{1,6}) (?P<title>.+?)\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
LOCAL_LINK = re.compile(r"\]\(#(?P<anchor>[^)\s]+)\)")

# anchor -> the page (src path) that includes the README section it belongs to; filled by on_files
_anchor_page: dict[str, str] = {}


def _readme(config: Any) -> list[str]:
    path = Path(config["config_file_path"]).parent / "README.md"
    return path.read_text(encoding="utf-8").splitlines()


def _headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """(line index, level, title) of every Markdown heading outside fenced code blocks."""
    found, in_fence = [], False
    for index, line in enumerate(lines):
        if FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (match := HEADING.match(line)):
            found.append((index, len(match["hashes"]), match["title"]))
    return found


def section(lines: list[str], title: str) -> list[str]:
    """The README section titled ``title``, its heading moved to level 2 and its subsections with it."""
    headings = _headings(lines)
    for position, (start, level, heading) in enumerate(headings):
        if heading == title:
            end = next((i for i, lvl, _ in headings[position + 1 :] if lvl <= level), len(lines))
            shift = 2 - level
            body = lines[start:end]
            for i, lvl, _ in headings[position:]:
                if i >= end:
                    break
                body[i - start] = "#" * (lvl + shift) + body[i - start][lvl:]
            return body
    known = ", ".join(repr(h) for _, _, h in headings)
    raise PluginError(f"README.md has no section {title!r} (its headings: {known})")


def _slug(title: str) -> str:
    return slugify(title, "-")


def on_files(files: Files, /, *, config: Any) -> Files:
    """Note which page includes which README section, so links between sections can follow them."""
    _anchor_page.clear()
    lines = _readme(config)
    for file in files.documentation_pages():
        for match in MARKER.finditer(file.content_string):
            for line in section(lines, match["title"]):
                if heading := HEADING.match(line):
                    _anchor_page.setdefault(_slug(heading["title"]), file.src_uri)
    return files


def on_page_markdown(markdown: str, /, *, page: Any, config: Any, files: Files) -> str:
    if not MARKER.search(markdown):
        return markdown
    lines = _readme(config)
    markdown = MARKER.sub(lambda m: "\n".join(section(lines, m["title"])), markdown)
    here = page.file.src_uri
    # the README links files under docs/ (images) from the top of the repository; the page sits inside docs/
    markdown = markdown.replace("](docs/", f"]({posixpath.relpath('.', posixpath.dirname(here) or '.')}/")

    def relink(match: re.Match[str]) -> str:
        target = _anchor_page.get(match["anchor"])
        if target is None or target == here:
            return match[0]
        return f"]({posixpath.relpath(target, posixpath.dirname(here) or '.')}#{match['anchor']})"

    return LOCAL_LINK.sub(relink, markdown)
