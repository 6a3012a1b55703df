"""Writing outputs safely: nothing half-written, nothing replaced that simulacra did not write.

Every output is built under a temporary name beside its target and moved into place with ``os.replace``
(:func:`temporary_dir_for` / :func:`replace_dir` for folders, :func:`temporary_file_for` /
:func:`finish_file` for files). The rules:

* **Ownership.** Every folder simulacra writes (a model, a run directory, a prepared data set, a PNG
  folder) holds a marker file, :data:`MARKER`. ``force=True`` replaces a folder only if it holds the
  marker, and a file only if it is a regular file (of the kind asked for: its suffix names the format);
  never an arbitrary folder such as the one holding the input data.
* **One writer.** :func:`output_lock` takes a lock file beside the target (``.NAME.simulacra-lock``,
  holding the owner's process id) for the whole command, checked before any training starts; a second
  process writing the same target is refused at once. A lock left by a dead process is taken over.
* **No litter.** Temporary names carry the writer's process id (``.NAME.PID.….tmp``); temporaries
  of processes that no longer run (after ``kill -9``) are removed the next time the target is written.
* **Permissions.** Outputs get the modes the user's umask gives (``0666``/``0777`` less the umask), not
  the ``0600``/``0700`` of the temporary files.
* **Links.** ``--force`` onto a symbolic link replaces the link with the new output; what the link
  pointed to is left as it was.
* **Checked before work.** :func:`check_writable` refuses a target under a file, a folder where a file
  is asked for, a folder that cannot be written, a name longer than the file system allows, or a lock
  path taken by a folder, before anything is computed. Names near the limit still get a lock and
  temporaries: theirs are shortened with a hash (:func:`lock_path`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from simulacra.errors import ConfigError, OutputExistsError

#: the marker file in every folder simulacra writes; ``--force`` replaces only folders that hold it
MARKER = ".simulacra"
#: room kept in a file name for what simulacra adds to it (``.NAME.PID.RANDOM.tmp.csv.gz``, ``.NAME.simulacra-lock``)
_ASIDE_ROOM = 48


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):  # pragma: no cover - a file system without the query
        return 255


def _stem(path: Path) -> str:
    """The part of ``path``'s name that its lock and temporaries start with: the name itself, or, for a
    name too long to take simulacra's additions within the file system's NAME_MAX, its first characters
    and a hash of the whole, so that every name simulacra builds beside a legal output is legal too."""
    name = path.name
    limit = 255
    with contextlib.suppress(OSError):
        parent = path.parent
        while not parent.exists():
            parent = parent.parent
        limit = _name_max(parent)
    if len(name.encode()) + _ASIDE_ROOM <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    keep = name.encode()[: max(limit - _ASIDE_ROOM - 13, 1)].decode(errors="ignore")
    return f"{keep}~{digest}"


def lock_path(path: str | os.PathLike[str]) -> Path:
    """The lock file of output ``path``: ``.NAME.simulacra-lock`` beside it (NAME shortened, see
    :func:`_stem`, when the output's name is near the file system's limit)."""
    path = Path(path)
    return path.parent / f".{_stem(path)}.simulacra-lock"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another user's live process
        return True
    return True


def check_name_lengths(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path after checking that each of its names fits NAME_MAX (255 bytes on Linux,
    macOS and Windows file systems): the file system refuses even to look a longer one up.

    Raises
    ------
    ConfigError
        A name that is too long.
    """
    path = Path(path)
    for part in path.parts:
        if len(part.encode()) > 255:
            raise ConfigError(
                f"{str(path)[:80]}…: a name of {len(part.encode())} bytes is longer than file systems allow "
                "(255); choose a shorter name"
            )
    return path


def check_writable(path: str | os.PathLike[str], *, kind: str) -> Path:
    """``path`` as a Path after checking that an output of ``kind`` (``"file"`` or ``"dir"``) can be
    written there: its nearest existing ancestor is a writable folder, and an existing ``path`` is a
    file for a file, a folder for a folder.

    Raises
    ------
    ConfigError
        A parent that is a file, a folder that cannot be written, or a target of the other kind.
    """
    path = check_name_lengths(path)
    if path.is_symlink() and not path.exists():
        raise ConfigError(f"{path}: is a broken symbolic link; remove it or choose another output path")
    if path.exists() and kind == "file" and path.is_dir():
        raise ConfigError(f"{path}: is a folder; give a file name such as {path.name or 'out'}.parquet")
    if path.exists() and kind == "dir" and not path.is_dir():
        raise ConfigError(f"{path}: is a file; give a folder name for this output")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(
            f"{path}: {parent} is a file, so nothing can be written under it; choose another path"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{path}: the folder {parent} is not writable; choose another output path")
    lock = lock_path(path)
    if lock.is_dir() or lock.is_symlink():
        raise ConfigError(
            f"{path}: its lock path {lock} is a folder or a link, not a lock simulacra wrote; remove it "
            "or choose another output path"
        )
    return path


def _place(target: str | os.PathLike[str]) -> tuple[str, str | None] | None:
    """Where a target lives, comparably: ``(resolved path, None)`` for a file or folder (symlinks
    followed), ``(database, table)`` for an SQL table (a SQLite file by its resolved path, another
    database by its URL without password or options); ``None`` for a name that is neither (a bundled
    dataset)."""
    from simulacra.io.tables import _split_url, is_sql_url, redact_url, sqlite_file

    text = os.fspath(target)
    if is_sql_url(text):
        url, ours = _split_url(text)
        db = sqlite_file(url)
        ident = f"sqlite:{Path(db).resolve()}" if db is not None else redact_url(url).partition("?")[0]
        return ident, ours.get("table") or ("(a query)" if "query" in ours else "synthetic")
    path = Path(text)
    if not path.exists() and not path.parent.exists():
        return None
    return str(path.resolve()), None


def check_not_input(output: str | os.PathLike[str], *inputs: object, flag: str = "-o") -> None:
    """Refuse an output that is one of the command's inputs, lies inside an input folder (a model's
    ``state.json``) or would replace a folder holding an input — compared after resolving symlinks, and
    for SQL the same database and table: ``--force`` must never overwrite what the command reads.

    Raises
    ------
    ConfigError
        Naming the input and the fix (another output).
    """
    from simulacra.io.tables import is_sql_url

    if not is_sql_url(os.fspath(output)):
        check_name_lengths(output)
    out = _place(output)
    if out is None:
        return
    for source in inputs:
        if source is None or not isinstance(source, str | os.PathLike):
            continue
        src = _place(source)
        if src is None:
            continue
        if out[1] is not None or src[1] is not None:  # SQL: the same database and table
            clash = out == src
        else:
            a, b = Path(out[0]), Path(src[0])
            clash = a == b or b in a.parents or a in b.parents
        if clash:
            raise ConfigError(
                f"{flag} {os.fspath(output)}: is (or holds, or is inside) the input {os.fspath(source)}, which "
                "this command reads; write the output somewhere else"
            )


def claim(path: str | os.PathLike[str], *, force: bool, kind: str) -> Path:
    """Check ``path`` for an output of ``kind`` (:func:`check_writable`), refuse an existing one unless
    ``force``, and with ``force`` refuse to replace what simulacra did not write; create the parent
    folders and remove stale temporaries of dead processes.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``force`` is false, or it is a folder without :data:`MARKER`.
    ConfigError
        See :func:`check_writable`.
    """
    path = check_writable(path, kind=kind)
    if path.exists():
        if not force:
            raise OutputExistsError(
                f"{path}: already exists; choose another path or pass `force` to overwrite"
            )
        if kind == "dir" and not (path / MARKER).is_file():
            raise OutputExistsError(
                f"{path}: exists and was not written by simulacra, and `force` replaces only simulacra's own "
                "outputs; choose another path (or delete the folder yourself)"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(path)
    return path


def clean_stale(path: Path) -> list[Path]:
    """Remove the temporaries of ``path`` (``.NAME.PID.….tmp*``) left by processes that no longer run;
    returns what was removed."""
    pattern = re.compile(rf"^\.{re.escape(_stem(path))}\.(\d+)\..*\.tmp")
    removed = []
    with contextlib.suppress(OSError):
        for entry in path.parent.iterdir():
            m = pattern.match(entry.name)
            if m and not _alive(int(m.group(1))):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                removed.append(entry)
    return removed


def _prefix(path: Path) -> str:
    return f".{_stem(path)}.{os.getpid()}."


def temporary_dir_for(path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """A new empty folder beside ``path`` to build an output folder in (see :func:`claim` for the
    checks); pair with :func:`replace_dir`, and remove it on failure.

    Raises
    ------
    OutputExistsError, ConfigError
        See :func:`claim`.
    """
    path = claim(path, force=force, kind="dir")
    return Path(tempfile.mkdtemp(prefix=_prefix(path), suffix=".tmp", dir=path.parent))


def replace_dir(tmp: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """Mark the finished folder ``tmp`` as simulacra's (:data:`MARKER`), give it the umask's modes, and
    move it to ``path``; an existing ``path`` is first moved aside and then deleted, so there is no
    moment without a complete output."""
    tmp, path = Path(tmp), Path(path)
    (tmp / MARKER).write_text("written by simulacra; --force may replace this folder\n", encoding="utf-8")
    mask = _umask()
    for root, dirs, files in os.walk(tmp):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o777 & ~mask)
        for f in files:
            os.chmod(os.path.join(root, f), 0o666 & ~mask)
    os.chmod(tmp, 0o777 & ~mask)
    old = None
    if path.is_symlink():
        # a link to a folder: the link is replaced by the new folder; the folder it pointed to is
        # another place, left as it is (os.replace over the link would fail, rmtree of a link too)
        path.unlink()
    elif path.exists():
        old = path.with_name(f"{_prefix(path)}old.tmp")
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return path


def temporary_file_for(path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """A new empty file beside ``path`` (same suffixes, which writers such as openpyxl check) to write an
    output file into; pair with :func:`finish_file`, and remove it on failure.

    Raises
    ------
    OutputExistsError, ConfigError
        See :func:`claim`.
    """
    path = claim(path, force=force, kind="file")
    fd, tmp = tempfile.mkstemp(
        prefix=_prefix(path), suffix=".tmp" + "".join(path.suffixes[-2:]), dir=path.parent
    )
    os.close(fd)
    return Path(tmp)


def finish_file(tmp: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """Give the written ``tmp`` the umask's mode and move it to ``path``."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, force: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` under a temporary name, then move it into place.

    Raises
    ------
    OutputExistsError, ConfigError
        See :func:`claim`.
    """
    return atomic_write_bytes(path, text.encode("utf-8"), force=force)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, force: bool = False) -> Path:
    """Write ``data`` to ``path`` under a temporary name, then move it into place.

    Raises
    ------
    OutputExistsError, ConfigError
        See :func:`claim`.
    """
    path = Path(path)
    tmp = temporary_file_for(path, force=force)
    try:
        tmp.write_bytes(data)
        return finish_file(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def output_lock(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold the lock of output ``path`` (a file ``.NAME.simulacra-lock`` beside it, created atomically,
    holding this process id) for the duration of the block; a lock of a dead process is taken over.

    Raises
    ------
    OutputExistsError
        Another live process holds the lock.
    ConfigError
        The folder cannot be written (see :func:`check_writable`).
    """
    path = Path(path)
    check_writable(path, kind="dir" if path.is_dir() else "file")
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = lock_path(path)
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                owner = int(lock.read_text(encoding="ascii").strip() or 0)
            except (OSError, ValueError):
                owner = 0
            if owner and _alive(owner):
                raise OutputExistsError(
                    f"{path}: another simulacra process (pid {owner}) is writing it; wait for it to finish "
                    "or choose another output"
                ) from None
            lock.unlink(missing_ok=True)  # left by a dead process
            continue
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(f"{os.getpid()}\n")
        break
    else:  # pragma: no cover - three races lost in a row
        raise OutputExistsError(f"{path}: another process keeps taking its lock; try again")
    try:
        yield path
    finally:
        lock.unlink(missing_ok=True)
