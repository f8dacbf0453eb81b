"""The host world: RmGetList over the real processes of this machine (Linux, macOS).

A process "uses" a registered file when it has the file open, has it mapped (Linux: a loaded
shared library, like a loaded DLL on Windows) or runs it as its executable (a running .exe is
in use on Windows too). Paths are compared after :func:`os.path.realpath` on both sides.
Identities are real: the PID and the start time as a FILETIME from
:func:`rmcore.session._identity.process_start_time`, like every other identity in rmcore.

Shutdown and restart act on real processes, so they are off unless the world is created with
``allow_shutdown=True``; even then only processes of the calling user are signalled, never
PID 1 and never the calling process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable

from ..session._identity import process_start_time
from ..win32._types import RM_APP_TYPE
from ._world import App, AppId

try:
    import psutil
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
    _PSUTIL_MISSING: ImportError | None = exc
else:
    _PSUTIL_MISSING = None

__all__ = ["HOST_TS_SESSION", "HostWorld"]

# Decided (with why) in rmcore.session._decisions.DECISIONS.
HOST_TS_SESSION = 1

_KILL_GRACE = 5.0  # real seconds a SIGKILLed process gets to disappear
_DELETED = " (deleted)"


def _is_linux() -> bool:
    return sys.platform.startswith("linux") and os.path.isdir("/proc/self/fd")


def _linux_uses(pid: int, wanted: dict[str, set[str]]) -> set[str]:
    """The real paths in *wanted* that process *pid* has open, mapped or runs; fast /proc."""
    base = f"/proc/{pid}"
    hits: set[str] = set()
    try:
        exe = os.readlink(f"{base}/exe")
    except OSError:
        exe = ""
    if exe in wanted:
        hits.add(exe)
    try:
        fds = os.listdir(f"{base}/fd")
    except OSError:
        fds = []
    for fd in fds:
        try:
            target = os.readlink(f"{base}/fd/{fd}")
        except OSError:
            continue
        if target in wanted:
            hits.add(target)
    try:
        with open(f"{base}/maps", "rb") as handle:
            maps = handle.read().decode("utf-8", "surrogateescape")
    except OSError:
        maps = ""
    for line in maps.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5] in wanted:
            hits.add(fields[5])
    return hits


def _psutil_uses(process: psutil.Process, wanted: dict[str, set[str]]) -> set[str]:
    """The same through psutil (other POSIX hosts): executable and open files only."""
    hits: set[str] = set()
    try:
        exe = process.exe()
    except (psutil.Error, OSError):
        exe = ""
    if exe and os.path.realpath(exe) in wanted:
        hits.add(os.path.realpath(exe))
    try:
        opened = process.open_files()
    except (psutil.Error, OSError):
        opened = []
    for item in opened:
        real = os.path.realpath(item.path)
        if real in wanted:
            hits.add(real)
    return hits


class HostWorld:
    """The processes of this machine, as a :class:`rmcore.world._world.WorldView`.

    * Every process is reported as ``RmConsole``: a POSIX process is closed like a console
      app, by signal. Processes of another user (any of real, effective or saved UID differs
      from the caller's effective UID) are ``other_user``, so RmGetList reports
      RmRebootReasonPermissionDenied for them and RM never acts on them.
    * :meth:`service` always answers ``None``: there are no Windows services here, so a
      registered service name matches nothing.
    * With ``allow_shutdown=False`` (the default) :meth:`stop` returns ``False`` without
      signalling anything: the app shows RmStatusErrorOnStop and RmShutdown returns 351, the
      same as an app that would not close. Raising instead would escape the Win32-shaped API.
    * With ``allow_shutdown=True``: SIGTERM, up to ``shutdown_timeout`` (else the engine's
      30 s) real seconds for it to exit, then SIGKILL only under RmForceShutdown. A caller
      running as root owns every root process: that is the caller's opt-in.
    * Every process of the calling user with a readable command line counts as restartable
      (POSIX has no RegisterApplicationRestart); RmRestart relaunches that command line in
      the old working directory, detached (new session, stdio on /dev/null).
    """

    def __init__(
        self, *, allow_shutdown: bool = False, shutdown_timeout: float | None = None
    ) -> None:
        if _PSUTIL_MISSING is not None:
            raise ImportError(
                "the host world needs psutil: pip install 'rmcore[host]'"
            ) from _PSUTIL_MISSING
        if shutdown_timeout is not None and shutdown_timeout < 0:
            raise ValueError("shutdown_timeout must be >= 0")
        self.allow_shutdown = allow_shutdown
        self.shutdown_timeout = shutdown_timeout
        self._apps: dict[AppId, App] = {}  # the same process is always the same App
        self._cwd: dict[App, str] = {}
        self._launched: list[subprocess.Popen[bytes]] = []  # relaunched, reaped when they exit
        self._lock = threading.RLock()

    # -- WorldView ---------------------------------------------------------------------

    def is_directory(self, path: str) -> bool:
        return os.path.isdir(path)

    def holders(self, paths: Iterable[str]) -> list[App]:
        """Every running process that uses any of *paths*; ``files`` = the paths it uses."""
        wanted: dict[str, set[str]] = {}
        for path in paths:
            real = os.path.realpath(path)
            wanted.setdefault(real, set()).add(path)
        self._reap_launched()
        if not wanted:
            return []
        found: list[App] = []
        with self._lock:
            self._forget_exited()
            for pid, hits in self._scan(wanted):
                app = self._app(pid)
                if app is not None:
                    app.files = {name for real in hits for name in wanted[real]}
                    found.append(app)
        return found

    def process(self, pid: int, start_time: int) -> App | None:
        if process_start_time(pid) != start_time:
            return None
        with self._lock:
            app = self._app(pid)
        return app if app is not None and app.start_time == start_time else None

    def service(self, short_name: str) -> App | None:
        """No Windows services on a POSIX host: always ``None``."""
        return None

    def stop(self, app: App, *, force: bool, timeout: float) -> bool:
        """SIGTERM, wait, then SIGKILL if *force*; whether the process is gone.

        ``False`` without a signal when shutdown is disabled, for other users' processes,
        PID 0/1 and the calling process.
        """
        if not self.allow_shutdown or app.other_user or app.pid in (0, 1, os.getpid()):
            return False
        if process_start_time(app.pid) != app.start_time:
            return self._gone(app)  # it exited on its own: the file is free
        try:
            process = psutil.Process(app.pid)
            if not self._ours(process):
                return False
            process.terminate()
        except psutil.NoSuchProcess:
            return self._gone(app)
        except (psutil.Error, OSError):
            return False
        wait = self.shutdown_timeout if self.shutdown_timeout is not None else timeout
        if self._wait_gone(app, wait):
            return self._gone(app)
        if not force:
            return False
        try:
            process.kill()
        except psutil.NoSuchProcess:
            return self._gone(app)
        except (psutil.Error, OSError):
            return False
        return self._gone(app) if self._wait_gone(app, _KILL_GRACE) else False

    def start_again(self, app: App) -> bool:
        """Relaunch *app*'s command line in its old working directory, in a new session."""
        if app.other_user or not app.command_line:
            return False
        executable = app.image_path.removesuffix(_DELETED)
        with self._lock:
            cwd = self._cwd.get(app)
        try:
            child = subprocess.Popen(
                list(app.command_line),
                executable=executable if os.path.isfile(executable) else None,
                cwd=cwd if cwd and os.path.isdir(cwd) else None,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except (OSError, ValueError):
            return False
        start = process_start_time(child.pid)
        with self._lock:
            self._launched.append(child)
            if start is None:
                return False
            self._apps.pop(app.id, None)
            app.pid, app.start_time = child.pid, start
            app.running = True
            app.files = set()
            self._apps[app.id] = app
        return True

    # -- helpers -----------------------------------------------------------------------

    def _scan(self, wanted: dict[str, set[str]]) -> list[tuple[int, set[str]]]:
        """(PID, real paths used) of every inspectable process using something in *wanted*."""
        found: list[tuple[int, set[str]]] = []
        if _is_linux():
            for name in os.listdir("/proc"):
                if name.isdigit() and (hits := _linux_uses(int(name), wanted)):
                    found.append((int(name), hits))
            return found
        for process in psutil.process_iter():
            try:
                hits = _psutil_uses(process, wanted)
            except (psutil.Error, OSError):
                continue
            if hits:
                found.append((process.pid, hits))
        return found

    def _app(self, pid: int) -> App | None:
        """The cached App of the running process *pid*, made on first sight."""
        start = process_start_time(pid)
        if start is None:
            return None
        app = self._apps.get((pid, start))
        if app is not None:
            return app
        try:
            process = psutil.Process(pid)
            with process.oneshot():
                name = process.name()
                ours = self._ours(process)
                exe = _readable(process.exe)
                cwd = _readable(process.cwd) if ours else ""
                try:
                    command_line = tuple(process.cmdline())
                except psutil.AccessDenied:
                    command_line = ()
        except (psutil.Error, OSError):
            return None  # gone, or not even its name is readable: skip it
        app = App(
            pid,
            start,
            exe,
            name,
            app_type=RM_APP_TYPE.RmConsole,
            ts_session=HOST_TS_SESSION,
            restartable=ours and bool(command_line),
            other_user=not ours,
            command_line=command_line,
        )
        self._apps[app.id] = app
        if cwd:
            self._cwd[app] = cwd
        return app

    @staticmethod
    def _ours(process: psutil.Process) -> bool:
        """Whether every UID of *process* is the caller's effective UID."""
        return set(process.uids()) == {os.geteuid()}

    def _forget_exited(self) -> None:
        """Drop cached processes that have exited (and mark them not running)."""
        for key, app in list(self._apps.items()):
            if process_start_time(app.pid) != app.start_time:
                app.running = False
                del self._apps[key]
                self._cwd.pop(app, None)

    def _gone(self, app: App) -> bool:
        with self._lock:
            app.running = False
            app.files = set()
            self._apps.pop(app.id, None)
        return True

    @staticmethod
    def _wait_gone(app: App, seconds: float) -> bool:
        """Poll until *app* no longer runs (a zombie counts as gone), at most *seconds*.

        Polling, not ``waitpid``: the process may be the caller's child, whose exit status
        belongs to whoever started it.
        """
        deadline = time.monotonic() + seconds
        pause = 0.005
        while process_start_time(app.pid) == app.start_time:
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
        return True

    def _reap_launched(self) -> None:
        with self._lock:
            self._launched = [child for child in self._launched if child.poll() is None]


def _readable(read: Callable[[], str]) -> str:
    """``read()``, or ``""`` when the process does not let us read it."""
    try:
        return read()
    except psutil.AccessDenied:
        return ""
