"""Who holds what: the world RmGetList answers from, and that RmShutdown/RmRestart act on.

:class:`World` is the deterministic simulated world tests declare: processes, services,
which files each holds, how each reacts to shutdown. Time in it is a clock the test
advances; nothing sleeps. Anything with the :class:`WorldView` methods can stand in for
it (the host world does).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..session import _fidelity
from ..win32._types import RM_APP_TYPE

__all__ = ["App", "AppId", "Clock", "World", "WorldView"]

AppId = tuple[int, int]  # (PID, start FILETIME): what RM_UNIQUE_PROCESS names

# Declared processes get Windows-like PIDs (multiples of 4) above any real POSIX PID
# (Linux caps them at 2**22), so a simulated app never looks like the calling process.
_FIRST_PID = 5_000_000
_FILETIME_2026 = 134_117_000_000_000_000  # a plausible start time for declared processes
_TICKS_PER_SECOND = 10_000_000


class Clock:
    """Simulated time in seconds: it moves only when told to, so no test ever sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        self.now += seconds


@dataclass(eq=False)
class App:
    """A simulated process (``service_name`` empty) or service, and how it behaves."""

    pid: int
    start_time: int
    image_path: str
    app_name: str
    app_type: RM_APP_TYPE = RM_APP_TYPE.RmMainWindow
    service_name: str = ""
    ts_session: int = 1
    restartable: bool = True  # registered with RegisterApplicationRestart
    other_user: bool = False  # elevated or another user: RM may not act on it
    critical: bool = False
    shutdown_delay: float = 0.0  # simulated seconds it takes to agree to close
    refuses_shutdown: bool = False  # never closes politely (a hung, non-pumping app)
    refuse_polls: int = 0  # ignores this many polite shutdown requests, then closes
    restart_fails: bool = False
    command_line: tuple[str, ...] = ()
    files: set[str] = field(default_factory=set)
    running: bool = True

    @property
    def id(self) -> AppId:
        return (self.pid, self.start_time)

    @property
    def is_service(self) -> bool:
        return bool(self.service_name)


class WorldView(Protocol):
    """What the Restart Manager engine asks of a world (simulated or host)."""

    def is_directory(self, path: str) -> bool: ...
    def holders(self, paths: Iterable[str]) -> list[App]: ...
    def process(self, pid: int, start_time: int) -> App | None: ...
    def service(self, short_name: str) -> App | None: ...
    def stop(self, app: App, *, force: bool, timeout: float) -> bool: ...
    def start_again(self, app: App) -> bool: ...


class World:
    """A deterministic simulated world; share one between Simulators to share the machine."""

    def __init__(self) -> None:
        self._apps: list[App] = []
        self._directories: set[str] = set()  # path keys (as Windows compares names)
        self._next_pid = _FIRST_PID
        self._lock = threading.RLock()
        self.clock = Clock()
        self.stop_requests: list[AppId] = []  # every stop RM asked for, in order

    def _new_pid(self) -> int:
        pid, self._next_pid = self._next_pid, self._next_pid + 4
        return pid

    def __deepcopy__(self, memo: dict[int, Any]) -> World:
        """An independent copy (a World given to a pytest marker is copied for each test)."""
        with self._lock:
            twin = World()
            twin._apps = copy.deepcopy(self._apps, memo)
            twin._directories = set(self._directories)
            twin._next_pid = self._next_pid
            twin.clock.now = self.clock.now
            twin.stop_requests = list(self.stop_requests)
            return twin

    # -- declaring the world -----------------------------------------------------------

    def add_process(
        self,
        image_path: str,
        *,
        name: str | None = None,
        pid: int | None = None,
        start_time: int | None = None,
        files: Iterable[str] = (),
        **behaviour: Any,
    ) -> App:
        """Declare a running process; *behaviour* sets any :class:`App` field."""
        with self._lock:
            pid = self._new_pid() if pid is None else pid
            start = _FILETIME_2026 + len(self._apps) if start_time is None else start_time
            app_name = name if name is not None else image_path.replace("/", "\\").split("\\")[-1]
            app = App(pid, start, image_path, app_name, files=set(files), **behaviour)
            self._apps.append(app)
            return app

    def add_service(
        self,
        short_name: str,
        *,
        display_name: str | None = None,
        image_path: str = "C:\\Windows\\System32\\svchost.exe",
        files: Iterable[str] = (),
        **behaviour: Any,
    ) -> App:
        """Declare a running service (RM_APP_TYPE RmService, session 0, restartable)."""
        behaviour.setdefault("ts_session", 0)
        return self.add_process(
            image_path,
            name=display_name or short_name,
            files=files,
            service_name=short_name,
            app_type=RM_APP_TYPE.RmService,
            **behaviour,
        )

    def add_directory(self, path: str) -> None:
        """Declare *path* a directory (registering it makes RmGetList return 5)."""
        self._directories.add(_fidelity.path_key(path))

    def hold(self, app: App, *paths: str) -> None:
        with self._lock:
            app.files.update(paths)

    def release(self, app: App, *paths: str) -> None:
        with self._lock:
            app.files.difference_update(paths)

    def exit(self, app: App) -> None:
        """The process ends on its own (not through Restart Manager)."""
        with self._lock:
            app.running = False

    def find_pid(self, pid: int) -> App | None:
        """The process with this PID (kernel32's OpenProcess): the running one, else the
        last declared one that has exited."""
        with self._lock:
            matches = [app for app in self._apps if app.pid == pid]
        running = [app for app in matches if app.running]
        return (running or matches)[-1] if matches else None

    def terminate(self, app: App) -> None:
        """The process is killed (TerminateProcess): it stops and its files are released."""
        with self._lock:
            app.running = False
            app.files.clear()

    def filetime(self) -> int:
        """The simulated clock as a FILETIME, on the scale of declared start times."""
        return _FILETIME_2026 + int(self.clock.now * _TICKS_PER_SECOND)

    @property
    def now(self) -> float:
        """Simulated seconds since the world was created."""
        return self.clock.now

    def advance(self, seconds: float) -> None:
        """Move the simulated clock forward."""
        self.clock.advance(seconds)

    @property
    def apps(self) -> list[App]:
        return list(self._apps)

    # -- WorldView ---------------------------------------------------------------------

    def is_directory(self, path: str) -> bool:
        return bool(self._directories) and _fidelity.path_key(path) in self._directories

    def holders(self, paths: Iterable[str]) -> list[App]:
        wanted = {_fidelity.path_key(path) for path in paths}
        with self._lock:
            return [
                app
                for app in self._apps
                if app.running and any(_fidelity.path_key(f) in wanted for f in app.files)
            ]

    def process(self, pid: int, start_time: int) -> App | None:
        with self._lock:
            return next((a for a in self._apps if a.running and a.id == (pid, start_time)), None)

    def service(self, short_name: str) -> App | None:
        wanted = short_name.lower()
        with self._lock:
            return next(
                (a for a in self._apps if a.running and a.service_name.lower() == wanted), None
            )

    def stop(self, app: App, *, force: bool, timeout: float) -> bool:
        """Ask *app* to close; after *timeout* simulated seconds force it if *force*."""
        with self._lock:
            self.stop_requests.append(app.id)
            polite = not app.refuses_shutdown and app.shutdown_delay <= timeout
            if polite and app.refuse_polls > 0:
                app.refuse_polls -= 1
                polite = False
            self.clock.advance(app.shutdown_delay if polite else timeout)
            if not (polite or force):
                return False
            app.running = False
            app.files.clear()
            return True

    def start_again(self, app: App) -> bool:
        """Relaunch a stopped app: the same command as a new process (a new PID and a new
        start time, as Windows' RmRestart gives), or ``False`` if it fails to start."""
        with self._lock:
            if app.restart_fails:
                return False
            app.pid = self._new_pid()
            app.start_time = (
                _FILETIME_2026 + len(self._apps) + int(max(self.now, 1) * _TICKS_PER_SECOND)
            )
            app.running = True
            return True
