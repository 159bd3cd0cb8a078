"""The inbox as files: which drops it holds (hidden files and uploads still in progress left
alone), the options a dated drop name gives, and moving a drop to `processed/` or `rejected/`
(never over an existing file) with its reason written beside it. Nothing is ever deleted. Which
drop goes where is decided by the run (ops.pipeline): a drop a transform guard refused is rejected
too."""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path

from netflix_elt.core.errors import InputError, PipelineError
from netflix_elt.ingest.batch import IngestOptions, as_of_from_name

# Files an inbox scan leaves alone: hidden files and uploads still in progress.
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".filepart")
PROCESSED = "processed"
REJECTED = "rejected"


def inbox_drops(inbox: Path) -> list[Path]:
    """Regular files and symlinks directly in `inbox`, by name then mtime; hidden files, partial
    uploads and folders skipped. (Symlinks are listed so that they are rejected with a reason.)"""
    if not inbox.is_dir():
        raise InputError(f"{inbox}: inbox is not a directory; create it or pass another --inbox")
    files = [
        p
        for p in inbox.iterdir()
        if not p.name.startswith(".") and not p.name.endswith(PARTIAL_SUFFIXES) and (p.is_symlink() or p.is_file())
    ]
    return sorted(files, key=lambda p: (p.name, _mtime(p)))


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except FileNotFoundError:  # removed since the listing: skipped when its turn comes
        return 0.0


def vanished(drop: Path) -> bool:
    """The drop is gone from the inbox (removed since it was listed)."""
    return not drop.is_symlink() and not drop.exists()


def check_readable(drop: Path) -> None:
    """A link could point anywhere (another user's file, a device): only files put in the inbox are read."""
    if drop.is_symlink():
        raise InputError(f"{drop}: is a symlink; put the file itself in the inbox")


def drop_options(drop: Path, options: IngestOptions | None) -> IngestOptions:
    """The options to ingest a drop with: its name's date as the as-of, unless one is given."""
    dated = as_of_from_name(drop)
    chosen = options or IngestOptions()
    if dated is not None and chosen.as_of is None:
        chosen = replace(chosen, as_of=dated)
    return chosen


def move_to_processed(inbox: Path, drop: Path) -> Path | None:
    return move(drop, inbox / PROCESSED)


def move_to_rejected(inbox: Path, drop: Path) -> Path | None:
    return move(drop, inbox / REJECTED)


def move(path: Path, folder: Path) -> Path | None:
    """Move into folder, never over an existing file (a numbered name instead). The folder must be
    a real directory inside the inbox: a symlink there would send drops (and the reason files
    written beside them) somewhere else. A symlinked drop is moved as the link itself."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise PipelineError(f"{folder}: is not a plain folder (a symlink or a file); refusing to move drops there")
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    n = 1
    while target.exists() or target.is_symlink():
        target = folder / f"{path.stem}.{n}{path.suffix}"
        n += 1
    try:
        path.rename(target)  # same filesystem (both in the inbox): atomic, and moves a link, not its target
    except FileNotFoundError:
        if path.exists() or path.is_symlink():
            raise
        return None  # someone removed the drop meanwhile
    return target


def with_moved_source(message: str, drop: Path, moved: Path) -> str:
    """A refusal's message, its way to apply the drop anyway naming the file where it now is."""
    was, now = shlex.quote(str(drop.absolute())), shlex.quote(str(moved.absolute()))
    return message.replace(f"--source {was}", f"--source {now}")


def write_reason(moved: Path, reason: str) -> None:
    """`<drop>.reason.txt` beside a rejected drop."""
    write_new(moved.with_name(moved.name + ".reason.txt"), f"{reason}\n")


def write_new(path: Path, text: str) -> None:
    """Create `path` (never follow or overwrite whatever is there: a numbered name instead)."""
    n, target = 1, path
    while True:
        try:
            with target.open("x", encoding="utf-8") as fh:
                fh.write(text)
            return
        except FileExistsError:
            target = path.with_name(f"{path.stem}.{n}{path.suffix}")
            n += 1
