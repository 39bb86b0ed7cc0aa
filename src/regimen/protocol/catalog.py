"""Finding regimens: by id in the bundled folder and the user's folders, or by file path.

Search order: folders given with ``--regimen-path`` (or ``extra_dirs``), then the folders in the
``REGIMEN_PATH`` environment variable (separated like PATH), then the regimens bundled with
regimen. A user folder can therefore hold a local version of a bundled regimen; the plan header
shows which file was used.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from regimen.errors import RegimenError, UnknownRegimenError, option
from regimen.model import Regimen
from regimen.protocol.loader import load_file

ENV_VAR = "REGIMEN_PATH"
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def bundled_dir() -> Path:
    """The regimens shipped with regimen: inside the installed package, or regimens/ of a checkout."""
    packaged = Path(__file__).parents[1] / "regimens"  # the wheel puts them inside the package
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "regimens"


def _usable(folder: str | Path, what: str) -> Path:
    """A regimen file or folder whose path the system can look up: one too long for it (ENAMETOOLONG) is one line
    naming where it came from, not an OSError at the first look."""
    path = Path(folder)
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            text = str(folder)
            shown = text if len(text) <= 60 else text[:60] + "…"
            raise RegimenError(
                f"{what} {shown!r} is {len(text):,} characters, too long a path for this system: give a shorter one"
            ) from None
    return path


def search_dirs(extra_dirs: Iterable[str | Path] = ()) -> list[Path]:
    env = [p for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p.strip()]
    return (
        [_usable(d, f"regimen folder from {option('regimen_path')}") for d in extra_dirs]
        + [_usable(d, f"regimen folder from {ENV_VAR}") for d in env]
        + [bundled_dir()]
    )


def looks_like_path(ref: str) -> bool:
    return ref.endswith(".toml") or "/" in ref or os.sep in ref


_ID_LINE = re.compile(r"""^[ \t]*id[ \t]*=[ \t]*(["'])([^"'\n]*)\1""", re.MULTILINE)


def declared_id(path: Path) -> str:
    """The id a regimen file declares (its top-level ``id``), else its file name; read without parsing the file."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return path.stem
    match = _ID_LINE.search(text.split("\n[", 1)[0])  # the top level ends at the first table
    return match.group(2).strip() if match else path.stem


def _folder(d: Path) -> dict[str, Path]:
    """id -> file in one folder; two files declaring one id are an error naming both."""
    found: dict[str, Path] = {}
    for f in sorted(d.glob("*.toml")):
        key = declared_id(f)
        if key in found:
            raise RegimenError(
                f"regimen id {key!r} is declared by two files, {found[key]} and {f}: give each "
                "regimen its own id (and name the file after it)"
            )
        found[key] = f
    return found


def _files(dirs: Sequence[Path]) -> dict[str, Path]:
    """id -> the file that declares it, the first folder winning (a user's folder before the bundled one)."""
    found: dict[str, Path] = {}
    for d in dirs:
        if d.is_dir():
            for key, f in _folder(d).items():
                found.setdefault(key, f)
    return found


def regimen_ids(extra_dirs: Iterable[str | Path] = ()) -> list[str]:
    """Every regimen id that ``find`` knows (for shell completion): read from the files' ``id`` lines, none parsed.
    A folder with two files of one id is skipped here (``list`` and ``find`` name both files)."""
    ids: set[str] = set()
    for d in search_dirs(extra_dirs):
        if d.is_dir():
            try:
                ids.update(_folder(d))
            except RegimenError:
                continue
    return sorted(ids)


def find(ref: str, extra_dirs: Iterable[str | Path] = ()) -> Path:
    """The file for a regimen id or path, or an error naming the fix."""
    if looks_like_path(ref):
        path = _usable(ref, "regimen file")
        if path.suffix != ".toml":
            raise UnknownRegimenError(
                f"{ref!r} is neither a regimen id nor a .toml regimen file: see 'regimen list', "
                "or give a path ending in .toml"
            )
        if not path.is_file():
            raise UnknownRegimenError(
                f"no regimen file at {ref!r}: check the path, or give a regimen id (see 'regimen list')"
            )
        return path
    if not _ID.match(ref) or ".." in ref:
        raise UnknownRegimenError(
            f"{ref!r} is not a regimen id (ids are lower-case letters, digits and '-'): "
            "see 'regimen list', or give a path to a .toml file"
        )
    dirs = search_dirs(extra_dirs)
    for d in dirs:
        candidate = d / f"{ref}.toml"
        if candidate.is_file() and declared_id(candidate) == ref:  # the usual case: the file is named after its id
            return candidate
        if d.is_dir():  # a file whose name is not its id ('rchop.toml' with id 'r-chop-21') is found by its id
            hit = _folder(d).get(ref)
            if hit is not None:
                return hit
    named = next((d / f"{ref}.toml" for d in dirs if (d / f"{ref}.toml").is_file()), None)
    if named is not None:  # a file named after the id that declares another one: regimens are found by their id
        raise UnknownRegimenError(
            f"{named} declares the id {declared_id(named)!r}, not {ref!r}: use that id, or make the file's id and "
            "name the same"
        )
    known = sorted(_files(dirs))
    import difflib  # only on this error path: it costs start-up time

    close = difflib.get_close_matches(ref, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise UnknownRegimenError(
        f"unknown regimen {ref!r}: {hint}use one of {', '.join(known)} "
        f"(or add a folder with {option('regimen_path')} / {ENV_VAR})"
    )


def load(ref: str, extra_dirs: Iterable[str | Path] = ()) -> Regimen:
    """Load a regimen by id (bundled or user folders) or by path."""
    path = find(ref, extra_dirs)
    regimen = load_file(path)
    if not looks_like_path(ref) and regimen.id != ref:
        raise RegimenError(
            f"{path}: found for id {ref!r} but its id is {regimen.id!r}; write the id as one line "
            f"'id = \"{regimen.id}\"' at the top of the file"
        )
    if not looks_like_path(ref):
        bundled = _bundled_file(regimen.id)
        if bundled is not None and bundled.resolve() != path.resolve():
            # a user folder's file of a bundled id: every output names it, with a warning (issue 11.7)
            regimen = dataclasses.replace(regimen, shadows=str(bundled))
    return regimen


def _bundled_file(regimen_id: str) -> Path | None:
    folder = bundled_dir()
    candidate = folder / f"{regimen_id}.toml"
    if candidate.is_file() and declared_id(candidate) == regimen_id:
        return candidate
    try:
        return _folder(folder).get(regimen_id) if folder.is_dir() else None
    except RegimenError:
        return None


def list_regimens(extra_dirs: Iterable[str | Path] = ()) -> tuple[list[Regimen], list[RegimenError]]:
    """Every regimen that loads, and the errors of those that do not."""
    regimens: list[Regimen] = []
    errors: list[RegimenError] = []
    files: dict[str, Path] = {}
    for d in search_dirs(extra_dirs):
        if not d.is_dir():
            continue
        try:
            folder = _folder(d)
        except RegimenError as exc:  # two files of one id: said, and the folder's other regimens still listed
            errors.append(exc)
            folder = {declared_id(f): f for f in sorted(d.glob("*.toml"))}
        for key, f in folder.items():
            files.setdefault(key, f)
    for _id, path in sorted(files.items()):
        try:
            regimens.append(load_file(path))
        except RegimenError as exc:
            errors.append(exc)
    return regimens, errors
