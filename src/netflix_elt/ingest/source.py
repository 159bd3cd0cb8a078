"""Opening a drop: existence checks, checksum, compression, encoding, and the header line.

A drop is read once here, in streaming chunks: the sha256 of its bytes as they are on disk, and a
strict UTF-8 check of its (decompressed) text. A file that is valid UTF-8 (with or without BOM,
plain or gzip) is handed to DuckDB's CSV reader as it is. Anything else (UTF-16 with a BOM, or a
legacy single-byte file) is transcoded to a UTF-8 scratch copy under the home first, and the batch
is flagged with an encoding warning.

For a plain (uncompressed) file the caller may leave the UTF-8 check of everything past the first
block to DuckDB's reader, which validates every field it parses (`inspect_source(...,
validate_utf8=False)`): the result then has `utf8_verified` False, and the caller must run
`first_invalid_utf8` when the reader reports an invalid encoding or rejects any line (a rejected
line's bytes are not validated), and fall back with `as_fallback` when it finds a bad byte.

`stat_source` gives the identity a drop can be recognised by without reading it: its resolved
path, size, modification time, inode and the inode's change time (ctime) in nanoseconds. Copying
tools preserve the mtime (`cp -p`, `rsync -a`, `tar`, `unzip`), but none can set the ctime: the
kernel stamps it on every write, rename or chmod, so an edited file never matches.
"""

from __future__ import annotations

import codecs
import errno
import gzip
import hashlib
import logging
import re
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from netflix_elt.core.errors import InputError, resource_error
from netflix_elt.core.text import one_line as one_line

log = logging.getLogger(__name__)

CHUNK = 8 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
FALLBACK_ENCODING = "cp1252"
_HEADER_PROBE = 1024 * 1024
_TAIL_PROBE = 64 * 1024  # ends_mid_line reads this much of a file's end
# A file modified this recently may still be changing within one tick of its file system's clock
# (same size, same mtime, other bytes): its mtime is not trusted to recognise it later.
RACY_WINDOW_NS = 2_000_000_000
# The ctime is the kernel's (ns, one clock tick of a few ms): a file changed this recently may still
# be written within the same tick.
CTIME_SETTLE_NS = 20_000_000


def _cp1252_or_latin1(exc: UnicodeError) -> tuple[str, int]:
    """Bytes cp1252 leaves undefined (0x81, 0x8d, 0x8f, 0x90, 0x9d) decode as their latin-1 code
    point, so every byte of a legacy file becomes a character and nothing is dropped."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return bytes(bad).decode("latin-1"), exc.end


codecs.register_error("netflix_elt_latin1", _cp1252_or_latin1)


@dataclass(frozen=True)
class PreparedSource:
    path: Path
    read_path: Path
    sha256: str
    size: int
    compression: str  # "none" | "gzip"
    encoding: str  # "utf-8", "utf-8-sig", "utf-16", "cp1252"
    encoding_warning: str | None
    header_line: str

    @property
    def transcoded(self) -> bool:
        return self.read_path != self.path


@dataclass(frozen=True)
class SourceStat:
    """What identifies a drop without reading it. `mtime_ns` is None when the file was modified
    or changed too recently (within RACY_WINDOW_NS of now) for its stat to be trusted later."""

    realpath: str
    size: int
    mtime_ns: int | None
    ctime_ns: int | None = None
    inode: int | None = None

    def same_file_unchanged(self, other: SourceStat) -> bool:
        """The same file (path, inode), not written since (size, and the ctime that any write,
        utime or rename moves)."""
        return (self.realpath, self.size, self.ctime_ns, self.inode) == (
            other.realpath,
            other.size,
            other.ctime_ns,
            other.inode,
        )


def stat_source(path: Path) -> SourceStat:
    """The resolved path, size and trusted mtime of a drop (check_path it first)."""
    real = path.resolve()
    st = real.stat()
    mtime: int | None = st.st_mtime_ns
    now = time.time_ns()
    # abs(): a clock that stepped back must not make every file look settled long ago.
    if abs(now - st.st_mtime_ns) < RACY_WINDOW_NS or abs(now - st.st_ctime_ns) < CTIME_SETTLE_NS:
        mtime = None
    return SourceStat(str(real), st.st_size, mtime, st.st_ctime_ns, st.st_ino)


def settled_stat(path: Path, first: SourceStat) -> SourceStat:
    """`first` if it can be trusted, else (a file changed within the last CTIME_SETTLE_NS) the stat
    once that moment has passed, provided the file did not change meanwhile (same ctime)."""
    if first.mtime_ns is not None or first.ctime_ns is None:
        return first
    time.sleep(CTIME_SETTLE_NS / 1e9)
    try:
        again = stat_source(path)
    except OSError:
        return first
    return again if again.same_file_unchanged(first) else first


def check_path(path: Path) -> None:
    """Fail with a one-line reason for anything that is not a readable, non-empty regular file."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; check the path") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"{path}: symlink loop; point at the real file") from None
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a CSV file; pass the file itself")
    if not path.is_file():
        raise InputError(f"{path}: is not a regular file; pass a CSV file")
    if st.st_size == 0:
        raise InputError(f"{path}: is empty (0 bytes); nothing to ingest")


def _open(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror}); check its permissions") from None


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with _open(path) as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _text_chunks(path: Path, compression: str) -> Iterator[bytes]:
    """The drop's (decompressed) bytes in chunks; a broken gzip stream is an input error."""
    with _open(path) as raw:
        stream: BinaryIO = gzip.GzipFile(fileobj=raw) if compression == "gzip" else raw  # type: ignore[assignment]
        try:
            while chunk := stream.read(CHUNK):
                yield chunk
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise InputError(
                f"{path}: gzip data is truncated or corrupt ({exc}); re-copy or re-compress the file"
            ) from None


def _detect_utf16(head: bytes) -> bool:
    return head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))


def _looks_binary(head: bytes) -> bool:
    """NUL bytes in the first block of a file that is not UTF-16: not a text file."""
    return b"\x00" in head[:8192]


@dataclass(frozen=True)
class SourceInfo:
    """What one streaming pass over a drop learns: checksum, compression, encoding."""

    path: Path
    sha256: str
    size: int
    compression: str  # "none" | "gzip"
    encoding: str  # "utf-8", "utf-8-sig", or the one it will be decoded from
    encoding_warning: str | None
    header_line: str  # first non-blank line, when the file is UTF-8; else filled after decoding
    utf8_verified: bool = True  # False: only the first block was checked (see the module doc)


def inspect_source(path: Path, *, validate_utf8: bool = True) -> SourceInfo:
    """Checksum a drop and check it is text, in one streaming pass over its bytes. With
    `validate_utf8=False` a plain file's UTF-8 check stops after its first block (the CSV reader
    validates the rest; see the module doc); gzip files are always checked in full."""
    check_path(path)
    size = path.stat().st_size
    with _open(path) as fh:
        magic = fh.read(2)
    compression = "gzip" if magic == GZIP_MAGIC else "none"
    if not validate_utf8 and compression == "none":
        fast = _inspect_plain_fast(path, size)
        if fast is not None:
            return fast

    hasher = hashlib.sha256()  # plain files are hashed in this pass; gzip ones on disk below
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    head = b""
    valid_utf8 = True
    bad_offset = -1
    offset = 0
    for chunk in _text_chunks(path, compression):
        if compression == "none":
            hasher.update(chunk)
        if len(head) < _HEADER_PROBE:
            head += chunk[: _HEADER_PROBE - len(head)]
        if valid_utf8:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                valid_utf8 = False
                bad_offset = offset + exc.start
        offset += len(chunk)
    if valid_utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            valid_utf8 = False
            bad_offset = offset + exc.start
    digest = sha256_of(path) if compression == "gzip" else hasher.hexdigest()
    if not head.strip():
        raise InputError(f"{path}: holds no text (only blank space); nothing to ingest")

    utf16 = _detect_utf16(head)
    if not utf16 and _looks_binary(head):
        raise InputError(f"{path}: looks like binary data (NUL bytes), not a CSV text file")
    if valid_utf8 and not utf16:
        encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
        header = head.decode("utf-8", errors="replace").lstrip("\ufeff")
        return SourceInfo(path, digest, size, compression, encoding, None, _first_line(header))
    if utf16:
        warning = "file is UTF-16; transcoded to UTF-8 before parsing"
        return SourceInfo(path, digest, size, compression, "utf-16", warning, "")
    return as_fallback(SourceInfo(path, digest, size, compression, "utf-8", None, ""), bad_offset)


def _inspect_plain_fast(path: Path, size: int) -> SourceInfo | None:
    """Hash a plain file and check only its first block is UTF-8 text; None when that block is
    not (plain UTF-8): the full inspection then decides the encoding."""
    hasher = hashlib.sha256()
    head = b""
    with _open(path) as fh:
        while chunk := fh.read(CHUNK):
            hasher.update(chunk)
            if len(head) < _HEADER_PROBE:
                head += chunk[: _HEADER_PROBE - len(head)]
    if not head.strip() or _detect_utf16(head) or _looks_binary(head):
        return None
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        decoder.decode(head)  # not final: the block may end inside a character
        if len(head) == size:
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    header = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    return SourceInfo(
        path, hasher.hexdigest(), size, "none", encoding, None, _first_line(header), utf8_verified=len(head) == size
    )


def first_invalid_utf8(path: Path, compression: str = "none") -> int | None:
    """The offset of the first byte of the (decompressed) file that is not valid UTF-8, or None."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    try:
        for chunk in _text_chunks(path, compression):
            decoder.decode(chunk)
            offset += len(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return offset + exc.start
    return None


def as_fallback(info: SourceInfo, bad_offset: int) -> SourceInfo:
    """The same drop, to be decoded as the legacy single-byte encoding (it is not UTF-8)."""
    warning = (
        f"file is not valid UTF-8 (first bad byte at offset {bad_offset}); decoded as "
        f"{FALLBACK_ENCODING} single-byte text: check accented characters"
    )
    return replace(info, encoding=FALLBACK_ENCODING, encoding_warning=warning, header_line="", utf8_verified=True)


def materialize_utf8(info: SourceInfo, scratch_dir: Path, scratch_name: str) -> PreparedSource:
    """The file DuckDB should read: the drop itself when it is UTF-8, else a UTF-8 scratch copy."""
    if info.encoding in ("utf-8", "utf-8-sig"):
        return PreparedSource(
            path=info.path,
            read_path=info.path,
            sha256=info.sha256,
            size=info.size,
            compression=info.compression,
            encoding=info.encoding,
            encoding_warning=None,
            header_line=info.header_line,
        )
    errors = "strict" if info.encoding == "utf-16" else "netflix_elt_latin1"
    target = scratch_dir / f"{scratch_name}.utf8.csv"
    text_decoder = codecs.getincrementaldecoder(info.encoding)(errors)
    try:
        scratch_dir.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8", newline="") as out:
            for chunk in _text_chunks(info.path, info.compression):
                out.write(text_decoder.decode(chunk))
            out.write(text_decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        target.unlink(missing_ok=True)
        raise InputError(f"{info.path}: is neither UTF-8 nor valid {info.encoding} text ({exc.reason})") from None
    except OSError as exc:  # the scratch copy did not fit (ENOSPC), or the disk failed
        target.unlink(missing_ok=True)
        resource = resource_error(exc, scratch_dir)
        if resource is None:
            raise
        raise resource from exc
    with target.open("r", encoding="utf-8", newline="") as fh:
        header = fh.read(_HEADER_PROBE).lstrip("\ufeff")
    if "\x00" in header[:8192]:
        target.unlink(missing_ok=True)
        raise InputError(f"{info.path}: looks like binary data (NUL characters), not a CSV text file")
    log.warning("%s: %s", one_line(info.path.name), info.encoding_warning)
    return PreparedSource(
        path=info.path,
        read_path=target,
        sha256=info.sha256,
        size=info.size,
        compression=info.compression,
        encoding=info.encoding,
        encoding_warning=info.encoding_warning,
        header_line=_first_line(header),
    )


def ends_mid_line(path: Path) -> bool:
    """Whether a plain file's last line has no line break after it and holds more than blank
    space: what an upload cut short leaves (the caller decides whether that line is complete)."""
    with _open(path) as fh:
        size = fh.seek(0, 2)
        if size == 0:
            return False
        fh.seek(max(0, size - _TAIL_PROBE))
        tail = fh.read()
    if tail.endswith((b"\n", b"\r")):
        return False
    last = re.split(rb"[\r\n]", tail)[-1]
    return bool(last.strip())


# Everything str.splitlines() breaks a line at.
def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""
