"""Inputs given as fsspec URLs (``s3://bucket/flows/``, ``gs://...``, ``file:///data/x.gz``,
``memory://...``, any protocol fsspec knows): what the readers need of them, so that every
command and both engines read a URL as they read a local path.

A URL is ``scheme://...`` (a scheme of two characters or more, so ``C:\\flows`` and
``C:/flows`` stay paths) or an fsspec chain such as ``simplecache::s3://...``. Anything else
is a local path and never reaches this module's fsspec calls: :func:`is_url` is the only
function the local paths go through, and fsspec is imported on the first URL only. fsspec
is in the optional extra ``[dask]``; without it, a URL is refused in one line naming the
install command. The protocol's own package (``s3fs`` for ``s3://``, ``gcsfs`` for
``gs://``) must be installed where the URL is opened: on the client and, with
``--engine dask``, on every worker (workers open URLs themselves).

Names stay as given: a directory, prefix or glob URL expands to URLs spelled from the one
given plus each file's path below it, so rows, rejections and errors name
``s3://bucket/flows/a.jsonl:12`` as the user would write it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from recommender.ingest.errors import InputError

__all__ = [
    "INSTALL",
    "filesystem",
    "is_url",
    "kind",
    "local_path",
    "matches",
    "mtime_ns",
    "open_url",
    "size",
    "staged",
    "walk",
]

#: How to get fsspec (the extra that has it).
INSTALL = "pip install 'netpol-recommender[dask]'"
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]+(?:://|::)")
_GLOB = re.compile(r"[*?\[]")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def is_url(path: str) -> bool:
    """Is this input an fsspec URL rather than a local path (see the module doc)?"""
    return _URL.match(path) is not None


def _input_error(message: str) -> Exception:
    return InputError(message)


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the path on it. InputError (one line) when
    fsspec, or the package of the URL's protocol, is not installed, or the protocol is
    unknown."""
    try:
        import fsspec.core
    except ImportError:
        raise _input_error(f"{url}: reading URLs needs fsspec: {INSTALL}") from None
    scheme = _URL.match(url).group(0).rstrip(":/")  # type: ignore[union-attr]
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:  # e.g. "Install s3fs to access S3"
        raise _input_error(f"{url}: {scheme}:// URLs need a package: {exc}") from None
    except ValueError as exc:
        if "Protocol not known" in str(exc):
            message = f"{url}: unknown URL scheme {scheme!r} (not an fsspec protocol)"
            raise _input_error(message) from None
        raise _input_error(f"{url}: not a valid URL: {exc}") from None


def _os_error(exc: OSError) -> OSError:
    """fsspec's ``FileNotFoundError(path)`` as the operating system words it."""
    if isinstance(exc, FileNotFoundError) and exc.strerror is None:
        return FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
    if isinstance(exc, IsADirectoryError) and exc.strerror is None:
        return IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
    return exc


def open_url(url: str) -> Any:
    """The file at ``url`` opened for binary reading (``read``, ``seek``, ``tell``, a
    context manager): byte ranges of a large object are read without fetching the rest.
    OSError when it cannot be opened."""
    fs, path = filesystem(url)
    try:
        return fs.open(path, "rb")
    except OSError as exc:
        raise _os_error(exc) from None


def size(url: str) -> int:
    """The size in bytes of the file at ``url``; OSError when it cannot be read."""
    fs, path = filesystem(url)
    try:
        return int(fs.size(path))
    except OSError as exc:
        raise _os_error(exc) from None


def kind(url: str) -> str:
    """``"file"``, ``"directory"`` (an object-store prefix is one), ``"other"`` or
    ``"missing"``."""
    fs, path = filesystem(url)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        raise _input_error(f"{url}: cannot read: {_os_error(exc).strerror or exc}") from None
    found = info.get("type")
    return found if found in ("file", "directory") else "other"


def _join(base: str, rest: str) -> str:
    return base + rest if base.endswith("/") else f"{base}/{rest}"


def matches(url: str) -> list[str]:
    """``url`` itself, or for a glob (``*``, ``?``, ``[``) the URLs it matches, sorted;
    InputError when a glob matches nothing."""
    fs, path = filesystem(url)
    magic = _GLOB.search(path)
    if magic is None:
        return [url]
    # The part before the glob, in the URL as given and on the filesystem.
    path_base = path[: path.rfind("/", 0, magic.start()) + 1]
    tail = path[len(path_base) :]
    url_base = url[: len(url) - len(tail)] if url.endswith(tail) else None
    found = sorted(fs.glob(path))
    if not found:
        raise _input_error(f"{url}: no such file or directory (the pattern matches nothing)")
    return [
        url_base + p[len(path_base) :]
        if url_base is not None and p.startswith(path_base)
        else fs.unstrip_protocol(p)
        for p in found
    ]


def walk(url: str) -> Iterator[tuple[tuple[str, ...], str]]:
    """``(parts, file_url)`` for every file below the directory (or prefix) ``url``:
    ``parts`` is its path below ``url`` split at ``/``, ``file_url`` is ``url`` joined
    with that path."""
    fs, path = filesystem(url)
    root = path.rstrip("/") + "/"
    try:
        found = fs.find(path, withdirs=False, detail=True)
    except OSError as exc:
        raise _input_error(f"{url}: cannot read: {_os_error(exc).strerror or exc}") from None
    for name, info in found.items():
        if info.get("type", "file") != "file" or not name.startswith(root):
            continue
        rest = name[len(root) :]
        yield tuple(rest.split("/")), _join(url, rest)


def mtime_ns(url: str) -> int | None:
    """The modification time of the file at ``url`` in nanoseconds (the fallback time of
    sources without timestamps, as for a local file); None when it has none."""
    fs, path = filesystem(url)
    if getattr(fs, "local_file", False):  # file://: the exact figure a path would give
        try:
            return os.stat(path).st_mtime_ns
        except OSError:
            return None
    try:
        when = fs.modified(path)
    except (OSError, NotImplementedError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - EPOCH) // timedelta(microseconds=1) * 1000


def local_path(url: str) -> str | None:
    """The path of a URL on this machine's own filesystem (``file://``), else None."""
    fs, path = filesystem(url)
    return path if getattr(fs, "local_file", False) else None


@contextlib.contextmanager
def staged(url: str) -> Iterator[tuple[Any, str]]:
    """``(filesystem, temporary path)`` beside ``url``: what is written there takes the
    name ``url`` when the block completes (replacing a file, never a directory), and is
    removed when it fails, so a reader never sees half an output. Object stores have no
    rename: there the move copies each object once."""
    fs, path = filesystem(url)
    path = path.rstrip("/")
    parent, _, name = path.rpartition("/")
    tmp = f"{parent}/.{name}.{uuid.uuid4().hex}.tmp"
    try:
        yield fs, tmp
        found = kind(url)
        if found == "directory":
            raise FileExistsError(errno.EEXIST, "a directory is in the way", url)
        if found != "missing":
            fs.rm(path)
        fs.mv(tmp, path, recursive=True)
    except BaseException:
        with contextlib.suppress(OSError):
            if fs.exists(tmp):
                fs.rm(tmp, recursive=True)
        raise
