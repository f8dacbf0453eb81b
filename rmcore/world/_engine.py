"""What RmGetList, RmShutdown and RmRestart do with the apps of one session.

A :class:`SessionApps` lives in the primary's process (only the primary may call these),
remembers what its shutdown stopped so AppStatus and RmRestart can refer to it, and owns
the session's filters and its cancellation flag. The apps themselves come from a world.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .. import winerror
from .._errors import RmError
from ..session import _fidelity
from ..session._table import Resources
from ..win32._types import (
    RM_APP_STATUS,
    RM_APP_TYPE,
    RM_FILTER_ACTION,
    RM_INVALID_TS_SESSION,
    RM_REBOOT_REASON,
)
from ._filters import FilterSet
from ._world import App, AppId, WorldView

__all__ = ["AffectedApp", "Caller", "SessionApps"]

# Documented: unresponsive apps are forced after 30 s, services after 20 s (RmShutdown page).
HUNG_APP_TIMEOUT = 30.0
SERVICE_KILL_TIMEOUT = 20.0

# Documented order: GUI apps, console apps, services, Explorer (RmShutdown page); restart reverses.
# Where RmUnknownApp goes is not documented: see _fidelity.UNKNOWN_APP_SHUTDOWN_RANK.
_SHUTDOWN_RANK: dict[int, int] = {
    RM_APP_TYPE.RmMainWindow: 0,
    RM_APP_TYPE.RmOtherWindow: 0,
    RM_APP_TYPE.RmUnknownApp: _fidelity.UNKNOWN_APP_SHUTDOWN_RANK,
    RM_APP_TYPE.RmConsole: 1,
    RM_APP_TYPE.RmService: 2,
    RM_APP_TYPE.RmExplorer: 3,
}

StatusCallback = Callable[[int], object]
_T = TypeVar("_T")


@dataclass(frozen=True)
class Caller:
    """The process calling RmGetList: its PID and terminal-services session."""

    pid: int
    ts_session: int


@dataclass
class AffectedApp:
    """One RM_PROCESS_INFO row, plus the world object to act on."""

    app: App
    id: AppId
    app_type: int  # RM_APP_TYPE
    status: int  # RM_APP_STATUS bits
    reasons: int  # RM_REBOOT_REASON bits
    ts_session: int
    restartable: bool

    @property
    def app_name(self) -> str:
        return self.app.app_name

    @property
    def service_short_name(self) -> str:
        return self.app.service_name


def _progress(callback: StatusCallback | None) -> Callable[[int, int], None]:
    """A reporter that sends strictly increasing percentages ending at 100."""
    last = -1

    def report(done: int, total: int) -> None:
        nonlocal last
        percent = 100 if total == 0 else done * 100 // total
        if callback is not None and percent > last:
            last = percent
            callback(percent)

    return report


_MASKS = int(RM_APP_STATUS.RmStatusShutdownMasked | RM_APP_STATUS.RmStatusRestartMasked)
_RESTART_MASKED = int(RM_APP_STATUS.RmStatusRestartMasked)
_RUNNING = int(RM_APP_STATUS.RmStatusRunning)
_CRITICAL = int(RM_APP_TYPE.RmCritical)
_CRITICAL_SERVICE = int(RM_REBOOT_REASON.RmRebootReasonCriticalService)
_CRITICAL_PROCESS = int(RM_REBOOT_REASON.RmRebootReasonCriticalProcess)
_PERMISSION_DENIED = int(RM_REBOOT_REASON.RmRebootReasonPermissionDenied)
_SESSION_MISMATCH = int(RM_REBOOT_REASON.RmRebootReasonSessionMismatch)
_DETECTED_SELF = int(RM_REBOOT_REASON.RmRebootReasonDetectedSelf)
_RM_HISTORY = int(
    RM_APP_STATUS.RmStatusStopped
    | RM_APP_STATUS.RmStatusRestarted
    | RM_APP_STATUS.RmStatusErrorOnStop
    | RM_APP_STATUS.RmStatusErrorOnRestart
)


class SessionApps:
    """The primary's view of one session's affected apps."""

    def __init__(self, world: WorldView) -> None:
        self.world = world
        self.filters = FilterSet()
        self._rows: dict[App, AffectedApp] = {}  # one row per app this session has seen
        self._using_now: set[App] = set()  # the apps the last computation found using them
        self._to_restart: list[App] = []  # stopped by RmShutdown, not yet back; stop order
        self._shut_down = False  # an RmShutdown reached this session: RmRestart is in sequence
        self._cancel = threading.Event()
        self._busy = threading.Lock()
        self._runner: int | None = None  # the thread running the current task

    # -- tasks and cancellation --------------------------------------------------------

    def cancel(self) -> bool:
        """RmCancelCurrentTask: flag the running task; ``False`` if none was running."""
        if self._runner is None:
            return False
        self._cancel.set()
        return True

    def _checkpoint(self) -> None:
        if self._cancel.is_set():
            self._cancel.clear()
            raise RmError.from_code(winerror.ERROR_CANCELLED, reason="RmCancelCurrentTask")

    def _task(self, function: str, body: Callable[[], _T]) -> _T:
        """Run one RmGetList/RmShutdown/RmRestart; tasks of a session run one at a time.

        A call from the status callback of the task running on this very thread cannot wait
        for that task (it would wait for itself): RmGetList runs at once; RmShutdown and
        RmRestart are refused (a decision, docs/fidelity.md).
        """
        if self._runner == threading.get_ident():
            if function == "RmGetList":
                return body()
            raise RmError.from_code(
                _fidelity.REENTRANT_TASK_RESULT,
                reason=f"{function} called from the status callback of a running task",
            )
        with self._busy:
            self._runner = threading.get_ident()
            self._cancel.clear()
            try:
                return body()
            finally:
                self._runner = None
                self._cancel.clear()

    # -- RmGetList ---------------------------------------------------------------------

    def get_list(
        self, resources: Resources, caller: Caller
    ) -> tuple[list[AffectedApp], RM_REBOOT_REASON]:
        """The affected apps (recomputed now) and the combined reboot reasons."""
        rows = self._task("RmGetList", lambda: self._compute(resources, caller))
        reasons = 0
        for row in rows:
            reasons |= row.reasons
        return rows, RM_REBOOT_REASON(reasons)

    def _compute(self, resources: Resources, caller: Caller) -> list[AffectedApp]:
        """Who uses the resources now, plus every app this session stopped or restarted
        (so their AppStatus stays visible); one row per app, masks read fresh."""
        for path in resources.files:
            if self.world.is_directory(path):
                raise RmError.from_code(
                    winerror.ERROR_ACCESS_DENIED, reason=f"{path} is a directory"
                )
        found = dict.fromkeys(self.world.holders(resources.files))
        self._checkpoint()
        for pid, start in resources.processes:
            found.update(dict.fromkeys(filter(None, [self.world.process(pid, start)])))
        for name in resources.services:
            found.update(dict.fromkeys(filter(None, [self.world.service(name)])))
        self._checkpoint()
        self._using_now = set(found)  # what a shutdown must stop to free the resources
        for app, row in self._rows.items():
            if row.status & _RM_HISTORY:
                found.setdefault(app)
        return [self._row(app, caller) for app in found]

    def _row(self, app: App, caller: Caller) -> AffectedApp:
        """The app's row, updated in place (a running task keeps the same row objects).
        Plain ints here: RmGetList builds a row per app per call, and flag enums are slow."""
        reasons = 0
        if app.critical:
            reasons |= _CRITICAL_SERVICE if app.is_service else _CRITICAL_PROCESS
        if app.other_user:
            reasons |= _PERMISSION_DENIED
        mismatch_possible = _fidelity.SERVICES_CAUSE_SESSION_MISMATCH or not app.is_service
        if mismatch_possible and app.ts_session != caller.ts_session:
            reasons |= _SESSION_MISMATCH
        if app.pid == caller.pid:
            reasons |= _DETECTED_SELF
        cannot_act = app.critical or app.other_user or app.pid == caller.pid
        row = self._rows.get(app)
        history = row.status & _RM_HISTORY if row is not None else 0
        status = history | (_RUNNING if app.running else 0) | self._mask(app)
        app_type = _CRITICAL if cannot_act else app.app_type
        ts_session = RM_INVALID_TS_SESSION if app.is_service or app.critical else app.ts_session
        restartable = not app.critical and (app.is_service or (app.restartable and not cannot_act))
        if row is None:
            row = self._rows[app] = AffectedApp(
                app, app.id, app_type, status, reasons, ts_session, restartable
            )
        else:
            row.id, row.app_type, row.status, row.reasons = app.id, app_type, status, reasons
            row.ts_session, row.restartable = ts_session, restartable
        return row

    def _mask(self, app: App) -> int:
        action = self.filters.action_for(app)
        if action is RM_FILTER_ACTION.RmNoShutdown:
            return _MASKS
        if action is RM_FILTER_ACTION.RmNoRestart:
            return _RESTART_MASKED
        return 0

    # -- RmShutdown --------------------------------------------------------------------

    def shutdown(
        self,
        resources: Resources,
        caller: Caller,
        *,
        force: bool,
        only_registered: bool,
        callback: StatusCallback | None,
    ) -> None:
        """Stop the affected apps in the documented order; raise the failure's code."""

        def body() -> None:
            self._shut_down = True  # documented: RmRestart is out of sequence only before this
            rows = self._compute(resources, caller)
            needing_reboot = [row.app_name for row in rows if row.reasons]
            if needing_reboot:
                raise RmError.from_code(
                    winerror.ERROR_FAIL_NOACTION_REBOOT,
                    reason=f"a restart is needed to free: {', '.join(needing_reboot)}",
                )
            targets = [
                row
                for row in rows
                if row.app in self._using_now
                and not self._mask(row.app) & RM_APP_STATUS.RmStatusShutdownMasked
            ]
            unregistered = [row.app_name for row in targets if not row.restartable]
            if only_registered and unregistered:
                raise RmError.from_code(
                    _fidelity.SHUTDOWN_ONLY_REGISTERED_REFUSAL,
                    reason="RmShutdownOnlyRegistered, but not registered for restart: "
                    + ", ".join(unregistered),
                )
            targets.sort(key=lambda row: _SHUTDOWN_RANK.get(row.app_type, 0))
            failed = self._each(targets, callback, lambda row: self._stop(row, force))
            if failed:
                raise RmError.from_code(
                    winerror.ERROR_FAIL_SHUTDOWN, reason=f"did not close: {', '.join(failed)}"
                )

        self._task("RmShutdown", body)

    def _stop(self, row: AffectedApp, force: bool) -> bool:
        timeout = SERVICE_KILL_TIMEOUT if row.app.is_service else HUNG_APP_TIMEOUT
        polite_possible = row.app_type != RM_APP_TYPE.RmUnknownApp
        stopped = (polite_possible or force) and self.world.stop(
            row.app, force=force, timeout=timeout
        )
        if stopped:
            row.status = (
                row.status & ~RM_APP_STATUS.RmStatusRunning
            ) | RM_APP_STATUS.RmStatusStopped
            if row.app in self._to_restart:
                self._to_restart.remove(row.app)
            self._to_restart.append(row.app)
        else:
            row.status |= RM_APP_STATUS.RmStatusErrorOnStop
        return stopped

    def _each(
        self,
        rows: list[AffectedApp],
        callback: StatusCallback | None,
        act: Callable[[AffectedApp], bool],
    ) -> list[str]:
        """Act on each row in order, reporting progress after each (and 100 at the end);
        the names of the apps *act* failed on."""
        report = _progress(callback)
        failed = []
        for done, row in enumerate(rows):
            self._checkpoint()
            if not act(row):
                failed.append(row.app_name)
            report(done + 1, len(rows))
        report(len(rows), len(rows))
        return failed

    # -- RmRestart ---------------------------------------------------------------------

    def _start_again(self, row: AffectedApp) -> bool:
        if not self.world.start_again(row.app):
            row.status |= RM_APP_STATUS.RmStatusErrorOnRestart
            return False
        row.id = row.app.id  # the relaunched process's identity
        row.status |= RM_APP_STATUS.RmStatusRestarted | RM_APP_STATUS.RmStatusRunning
        self._to_restart.remove(row.app)
        return True

    def restart(self, callback: StatusCallback | None) -> None:
        """Restart, in reverse order, the restartable apps the shutdown stopped; each comes
        back as a new process (new PID, new start time), as on Windows."""

        def body() -> None:
            if not self._shut_down:
                raise RmError.from_code(
                    winerror.ERROR_REQUEST_OUT_OF_SEQUENCE,
                    reason="RmRestart before any RmShutdown of this session",
                )
            due = [
                self._rows[app]
                for app in reversed(self._to_restart)
                if self._rows[app].restartable
                and not self._mask(app) & RM_APP_STATUS.RmStatusRestartMasked
            ]
            failed = self._each(due, callback, self._start_again)
            if failed:
                raise RmError.from_code(
                    winerror.ERROR_FAIL_RESTART, reason=f"did not restart: {', '.join(failed)}"
                )

        self._task("RmRestart", body)
