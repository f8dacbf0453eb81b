"""A hypothesis state machine over random simulated worlds: RmRegisterResources, RmGetList,
RmShutdown, RmRestart and the filters, every result checked against a small, independent
model of the documented rules (the RmRegisterResources .. RmRemoveFilter pages,
RM_PROCESS_INFO, the RM_* enums).

The model is written from the documentation, not from rmcore's engine. Where Windows is unknown it
reads rmcore's decision from ``rmcore.session._fidelity``; where the spec is silent and the model
had to choose, the choice is marked "spec silent" below.
"""

from __future__ import annotations

import ctypes
import itertools
import shutil
import tempfile
from dataclasses import dataclass, field

from hypothesis import Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

import rmcore
from rmcore import winerror
from rmcore.session import _fidelity
from rmcore.win32 import RM_APP_TYPE as T

# -- documented constants (RmShutdown page, the RM_* enumeration pages) ------------------------

APP_TIMEOUT = 30.0  # RmForceShutdown: unresponsive apps are forced after 30 s ...
SERVICE_TIMEOUT = 20.0  # ... services after 20 s
CALLER_TS_SESSION = 1  # the installer's terminal-services session (Simulator default)
INVALID_TS = 0xFFFFFFFF  # RM_INVALID_TS_SESSION as a DWORD

RUNNING, STOPPED, RESTARTED = 0x1, 0x2, 0x8
ERROR_ON_STOP, ERROR_ON_RESTART = 0x10, 0x20
SHUTDOWN_MASKED, RESTART_MASKED = 0x40, 0x80

REASON_PERMISSION, REASON_SESSION, REASON_CRIT_PROC = 0x1, 0x2, 0x4
REASON_CRIT_SVC, REASON_SELF = 0x8, 0x10

FORCE, ONLY_REGISTERED = 0x1, 0x10
NO_RESTART, NO_SHUTDOWN = 1, 2

# Shutdown order (RmShutdown page): GUI apps, console apps, services, Explorer; where an
# RmUnknownApp goes is rmcore's decision.
RANK = {
    T.RmMainWindow: 0,
    T.RmOtherWindow: 0,
    T.RmUnknownApp: _fidelity.UNKNOWN_APP_SHUTDOWN_RANK,
    T.RmConsole: 1,
    T.RmService: 2,
    T.RmExplorer: 3,
}

FILES = [f"C:\\Data\\file{i}.dat" for i in range(4)]
IMAGES = ["C:\\Apps\\alpha.exe", "C:\\Apps\\beta.exe", "C:\\Tools\\gamma.exe"]
# Avoid exactly 20 s / 30 s: whether an app closing at the very timeout counts as responsive
# is not documented.
DELAYS = [0.0, 19.5, 20.5, 29.5, 30.5, 60.0]


def rare(one_in: int) -> st.SearchStrategy[bool]:
    """True about once in *one_in* draws; shrinks to False."""
    return st.integers(0, one_in - 1).map(lambda n: n == one_in - 1)


def usual(one_in: int) -> st.SearchStrategy[bool]:
    """False about once in *one_in* draws; shrinks to True."""
    return st.integers(0, one_in - 1).map(lambda n: n != one_in - 1)


def recase(text: str, how: int) -> str:
    return (text, text.upper(), text.lower())[how]


class RecordingWorld(rmcore.World):
    """The simulated world, also noting the order RmRestart relaunches apps in."""

    def __init__(self) -> None:
        super().__init__()
        self.start_requests: list[rmcore.App] = []  # a restarted app gets a new PID

    def start_again(self, app: rmcore.App) -> bool:
        self.start_requests.append(app)
        return super().start_again(app)


@dataclass(eq=False)
class ModelApp:
    """What the model knows of one app: its declaration plus the session's history of it."""

    app: rmcore.App  # the world's object (identity and the world to act on)
    app_type: T
    service: str
    image: str
    restartable: bool
    critical: bool
    other_user: bool
    ts_session: int
    delay: float
    refuses: bool
    restart_fails: bool
    files: set[str] = field(default_factory=set)  # casefolded
    running: bool = True
    history: int = 0  # Stopped / Restarted / ErrorOnStop / ErrorOnRestart seen so far

    def __repr__(self) -> str:
        state = "running" if self.running else "not running"
        return f"<pid {self.pid} {self.app_type.name} {state} history={self.history:#x}>"

    @property
    def pid(self) -> int:
        return self.app.pid

    @property
    def ident(self) -> tuple[int, int]:
        return self.app.id  # the world changes the start time when it relaunches

    @property
    def is_service(self) -> bool:
        return bool(self.service)

    @property
    def filter_target(self) -> tuple[str, str]:
        return ("svc", self.service) if self.is_service else ("path", self.image)


@dataclass(frozen=True)
class AppSpec:
    """One app of a random world (printed briefly in falsifying examples)."""

    kind: str  # an RM_APP_TYPE name without "Rm"
    files: frozenset[int]  # indexes into FILES
    image: int = 0  # index into IMAGES (processes)
    restartable: bool = True
    refuses: bool = False
    delay: float = 0.0
    restart_fails: bool = False
    critical: bool = False
    other_user: bool = False
    ts_mismatch: bool = False
    is_self: bool = False  # the installer's own process (a process only)

    def __repr__(self) -> str:
        shown = [repr(self.kind), f"files={set(self.files) or 'set()'}"]
        for name, default in (
            ("image", 0),
            ("restartable", True),
            ("refuses", False),
            ("delay", 0.0),
            ("restart_fails", False),
            ("critical", False),
            ("other_user", False),
            ("ts_mismatch", False),
            ("is_self", False),
        ):
            if getattr(self, name) != default:
                shown.append(f"{name}={getattr(self, name)!r}")
        return f"AppSpec({', '.join(shown)})"


KINDS = ["MainWindow", "OtherWindow", "Console", "UnknownApp", "Explorer", "Service"]

app_specs = st.builds(
    AppSpec,
    kind=st.sampled_from(KINDS),
    files=st.frozensets(st.integers(0, len(FILES) - 1)),
    image=st.integers(0, len(IMAGES) - 1),
    restartable=usual(4),
    refuses=rare(5),
    delay=st.sampled_from(DELAYS),
    restart_fails=rare(5),
    critical=rare(40),
    other_user=rare(40),
    ts_mismatch=rare(40),
    is_self=rare(40),
)


class AppsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = tempfile.mkdtemp(prefix="rmcore-apps-")
        self.world = RecordingWorld()
        self.primary = rmcore.Simulator(self.store, world=self.world, mutex_timeout=5)
        self.secondary: rmcore.Simulator | None = None
        self.handle = 0
        self.secondary_handle = 0
        self.apps: list[ModelApp] = []
        self.n_files = len(FILES)
        # the session, as the model sees it
        self.reg_files: set[str] = set()  # casefolded
        self.reg_procs: set[tuple[int, int]] = set()
        self.reg_services: set[str] = set()  # casefolded
        self.filters: dict[tuple[str, str], int] = {}  # (kind, casefolded target) -> action
        self.shut_down = False  # an RmShutdown reached the session (whatever it returned)
        self.pending: list[ModelApp] = []  # stopped by RmShutdown, not restarted, stop order

    def teardown(self) -> None:
        shutil.rmtree(self.store, ignore_errors=True)

    # -- setting up --------------------------------------------------------------------

    @initialize(
        specs=st.lists(app_specs, min_size=1, max_size=6),
        n_files=st.integers(3, 4),
        with_secondary=st.booleans(),
        registered=st.frozensets(st.integers(0, len(FILES) - 1), min_size=1),
    )
    def build_world(
        self,
        specs: list[AppSpec],
        n_files: int,
        with_secondary: bool,
        registered: frozenset[int],
    ) -> None:
        self.n_files = n_files
        handle = ctypes.c_uint32(0xFFFFFFFF)
        key = ctypes.create_unicode_buffer(33)
        assert self.primary.RmStartSession(ctypes.byref(handle), 0, key) == 0
        self.handle = handle.value
        if with_secondary:
            self.secondary = rmcore.Simulator(self.store, world=self.world, mutex_timeout=5)
            joined = ctypes.c_uint32(0xFFFFFFFF)
            assert self.secondary.RmJoinSession(ctypes.byref(joined), key.value) == 0
            self.secondary_handle = joined.value

        caller_pid = self.primary.pid
        pids = (p for p in range(2000, 10_000, 4) if p != caller_pid)
        self_used = False
        for index, spec in enumerate(specs):
            service = spec.kind == "Service"
            is_self = spec.is_self and not service and not self_used
            self_used |= is_self
            files = [FILES[i] for i in sorted(spec.files) if i < n_files]
            behaviour = {
                "pid": caller_pid if is_self else next(pids),
                "files": files,
                "restartable": spec.restartable,
                "critical": spec.critical,
                "other_user": spec.other_user,
                "shutdown_delay": spec.delay,
                "refuses_shutdown": spec.refuses,
                "restart_fails": spec.restart_fails,
            }
            if service:
                name = f"Svc{index}"
                image = f"C:\\Windows\\System32\\svc{index}host.exe"
                ts = 0
                app = self.world.add_service(
                    name, display_name=f"Service number {index}", image_path=image, **behaviour
                )
            else:
                name, image = "", IMAGES[spec.image]
                ts = CALLER_TS_SESSION + 1 if spec.ts_mismatch else CALLER_TS_SESSION
                app_type = T["Rm" + spec.kind]
                app = self.world.add_process(image, app_type=app_type, ts_session=ts, **behaviour)
            self.apps.append(
                ModelApp(
                    app=app,
                    app_type=T["Rm" + spec.kind],
                    service=name,
                    image=image,
                    restartable=spec.restartable,
                    critical=spec.critical,
                    other_user=spec.other_user,
                    ts_session=ts,
                    delay=spec.delay,
                    refuses=spec.refuses,
                    restart_fails=spec.restart_fails,
                    files={f.casefold() for f in files},
                )
            )
        # the installer's files, registered up front as installers do
        self.register_files(secondary=False, files=[(i, 0) for i in sorted(registered)])

    # -- the model -----------------------------------------------------------------------

    def _critical_type(self, a: ModelApp) -> bool:
        """RmCritical (RM_APP_TYPE page): critical process, no permission, or the installer."""
        return a.critical or a.other_user or a.pid == self.primary.pid

    def _reasons(self, a: ModelApp) -> int:
        reasons = 0
        if a.critical:
            reasons |= REASON_CRIT_SVC if a.is_service else REASON_CRIT_PROC
        if a.other_user:
            reasons |= REASON_PERMISSION
        mismatch_possible = _fidelity.SERVICES_CAUSE_SESSION_MISMATCH or not a.is_service
        if mismatch_possible and a.ts_session != CALLER_TS_SESSION:
            reasons |= REASON_SESSION
        if a.pid == self.primary.pid:
            reasons |= REASON_SELF
        return reasons

    def _reported_type(self, a: ModelApp) -> int:
        return int(T.RmCritical if self._critical_type(a) else a.app_type)

    def _restartable_flag(self, a: ModelApp) -> bool:
        """bRestartable (RM_PROCESS_INFO page): "always TRUE for services, always FALSE for critical
        system processes"; a critical service is FALSE (spec silent on the overlap) and so is
        any app RM may not act on; otherwise RegisterApplicationRestart decides."""
        if a.critical:
            return False
        return a.is_service or (a.restartable and not self._critical_type(a))

    def _reported_ts(self, a: ModelApp) -> int:
        """TSSessionId (RM_PROCESS_INFO page): unused (-1) for services and critical processes;
        another user's process or the installer itself have a session (undocumented)."""
        return INVALID_TS if a.is_service or a.critical else a.ts_session

    def _mask(self, a: ModelApp) -> int:
        """The filter on the app *now*: "the most recent call overrides any previous
        modifications" and a removed filter modifies nothing (RmAddFilter, RmRemoveFilter
        pages). RmNoShutdown "prevents shutdown and restart", so it masks both."""
        kind, value = a.filter_target
        action = self.filters.get((kind, value.casefold()))
        if action == NO_SHUTDOWN:
            return SHUTDOWN_MASKED | RESTART_MASKED
        if action == NO_RESTART:
            return RESTART_MASKED
        return 0

    def _status(self, a: ModelApp) -> int:
        """RmStatusRunning: "currently running"; the other bits are the session's history."""
        return (RUNNING if a.running else 0) | a.history | self._mask(a)

    def _affected(self, a: ModelApp) -> bool:
        if not a.running:
            return False
        return bool(
            a.files & self.reg_files
            or a.ident in self.reg_procs
            or (a.is_service and a.service.casefold() in self.reg_services)
        )

    def _listed(self) -> list[ModelApp]:
        """RmGetList's rows: the affected apps, plus every app RmShutdown stopped (it stays
        listed, with its status, after it let go of the files) and, spec silent, every app
        RmShutdown or RmRestart acted on at all (ErrorOnStop ...). An app RM never acted on
        that exits on its own just drops out (spec silent; no RmStatusStoppedOther)."""
        return [a for a in self.apps if self._affected(a) or a.history]

    def _sim(self, secondary: bool) -> tuple[rmcore.Simulator, int]:
        if secondary and self.secondary is not None:
            return self.secondary, self.secondary_handle
        return self.primary, self.handle

    def _app(self, index: int) -> ModelApp:
        return self.apps[index % len(self.apps)]

    def _file(self, index: int) -> str:
        return FILES[index % self.n_files]

    def _check_world_matches_model(self) -> None:
        for a in self.apps:
            assert a.app.running == a.running, (a.pid, a.app.running, a.running)

    # -- rules: the installers register resources ----------------------------------------

    @rule(
        secondary=st.booleans(),
        files=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2)), min_size=1, max_size=3),
    )
    def register_files(self, secondary: bool, files: list[tuple[int, int]]) -> None:
        names = [recase(self._file(index), how) for index, how in files]
        sim, handle = self._sim(secondary)
        array = (ctypes.c_wchar_p * len(names))(*names)
        assert sim.RmRegisterResources(handle, len(names), array, 0, None, 0, None) == 0
        self.reg_files.update(n.casefold() for n in names)

    @rule(secondary=st.booleans(), app=st.integers(0, 5))
    def register_process(self, secondary: bool, app: int) -> None:
        pid, start = self._app(app).ident
        array = (rmcore.win32.RM_UNIQUE_PROCESS * 1)()
        array[0].dwProcessId = pid
        array[0].ProcessStartTime = rmcore.win32.FILETIME.from_int(start)
        sim, handle = self._sim(secondary)
        assert sim.RmRegisterResources(handle, 0, None, 1, array, 0, None) == 0
        self.reg_procs.add((pid, start))

    @rule(secondary=st.booleans(), app=st.integers(0, 5), how=st.integers(0, 2))
    def register_service(self, secondary: bool, app: int, how: int) -> None:
        name = recase(self._app(app).service or "NoSuchService", how)
        sim, handle = self._sim(secondary)
        array = (ctypes.c_wchar_p * 1)(name)
        assert sim.RmRegisterResources(handle, 0, None, 0, None, 1, array) == 0
        self.reg_services.add(name.casefold())

    # -- rules: the world changes on its own ---------------------------------------------

    @rule(app=st.integers(0, 5), file=st.integers(0, 3))
    def app_holds(self, app: int, file: int) -> None:
        a, path = self._app(app), self._file(file)
        self.world.hold(a.app, path)
        a.files.add(path.casefold())

    @rule(app=st.integers(0, 5), file=st.integers(0, 3))
    def app_releases(self, app: int, file: int) -> None:
        a, path = self._app(app), self._file(file)
        self.world.release(a.app, path)
        a.files.discard(path.casefold())

    @rule(app=st.integers(0, 5))
    def app_exits(self, app: int) -> None:
        a = self._app(app)
        self.world.exit(a.app)
        a.running = False

    # -- rules: filters --------------------------------------------------------------------

    def _target(self, index: int) -> tuple[str, str]:
        """An app's image path (processes) or service name; one past the apps: no app."""
        if index >= len(self.apps):
            return ("path", "C:\\Apps\\none.exe")
        return self.apps[index].filter_target

    @staticmethod
    def _filter_args(target: tuple[str, str], how: int) -> tuple[str | None, str | None]:
        """(strModuleName, strServiceShortName), in some letter case: Windows names ignore
        case, so a filter on "C:\\APPS\\ALPHA.EXE" is the filter on alpha.exe (undocumented)."""
        kind, value = target
        value = recase(value, how)
        return (value, None) if kind == "path" else (None, value)

    @rule(
        on=st.integers(0, 6),
        how=st.integers(0, 2),
        action=st.sampled_from([NO_RESTART, NO_SHUTDOWN]),
    )
    def add_filter(self, on: int, how: int, action: int) -> None:
        kind, value = self._target(on)
        module, service = self._filter_args((kind, value), how)
        assert self.primary.RmAddFilter(self.handle, module, None, service, action) == 0
        self.filters[kind, value.casefold()] = action  # the latest call overrides

    @rule(on=st.integers(0, 6), how=st.integers(0, 2))
    def remove_filter(self, on: int, how: int) -> None:
        kind, value = self._target(on)
        module, service = self._filter_args((kind, value), how)
        code = self.primary.RmRemoveFilter(self.handle, module, None, service)
        if self.filters.pop((kind, value.casefold()), None) is not None:
            assert code == winerror.ERROR_SUCCESS
        else:
            assert code == winerror.ERROR_FILE_NOT_FOUND

    # -- rules: what only the primary may do -----------------------------------------------

    @precondition(lambda self: self.secondary is not None)
    @rule(which=st.sampled_from(["list", "shutdown", "restart", "add", "remove"]))
    def secondary_is_refused(self, which: str) -> None:
        assert self.secondary is not None
        sim, handle = self.secondary, self.secondary_handle
        needed, count, reasons = ctypes.c_uint32(0), ctypes.c_uint32(0), ctypes.c_uint32(0)
        before = len(self.world.stop_requests), len(self.world.start_requests)
        module = IMAGES[0]
        code = {
            "list": lambda: sim.RmGetList(
                handle, ctypes.byref(needed), ctypes.byref(count), None, ctypes.byref(reasons)
            ),
            "shutdown": lambda: sim.RmShutdown(handle, FORCE, None),
            "restart": lambda: sim.RmRestart(handle, 0, None),
            "add": lambda: sim.RmAddFilter(handle, module, None, None, NO_SHUTDOWN),
            "remove": lambda: sim.RmRemoveFilter(handle, module, None, None),
        }[which]()
        assert code == _fidelity.SECONDARY_CALLS_PRIMARY_ONLY_RESULT
        assert (len(self.world.stop_requests), len(self.world.start_requests)) == before
        self._check_world_matches_model()

    # -- rules: RmGetList ----------------------------------------------------------------

    @rule()
    def get_list(self) -> None:
        expected = self._listed()
        want_reasons = 0
        for a in expected:
            want_reasons |= self._reasons(a)

        needed, count, reasons = ctypes.c_uint32(0xDEAD), ctypes.c_uint32(0), ctypes.c_uint32(0)
        code = self.primary.RmGetList(
            self.handle, ctypes.byref(needed), ctypes.byref(count), None, ctypes.byref(reasons)
        )
        if expected:
            assert code == winerror.ERROR_MORE_DATA
            assert count.value == _fidelity.GETLIST_COUNT_ON_MORE_DATA
        else:
            assert code == winerror.ERROR_SUCCESS
            assert count.value == 0
        assert needed.value == len(expected), (needed.value, expected)
        assert reasons.value == want_reasons

        rows = (rmcore.win32.RM_PROCESS_INFO * max(len(expected), 1))()
        count.value = len(rows)
        code = self.primary.RmGetList(
            self.handle, ctypes.byref(needed), ctypes.byref(count), rows, ctypes.byref(reasons)
        )
        assert code == winerror.ERROR_SUCCESS
        assert needed.value == count.value == len(expected)
        assert reasons.value == want_reasons
        event(f"RmGetList: {min(len(expected), 3)}+ rows, reasons {want_reasons:#x}")
        got = {rows[i].Process.dwProcessId: rows[i] for i in range(count.value)}
        assert len(got) == count.value, "the same process is listed twice"
        assert set(got) == {a.pid for a in expected}, (sorted(got), expected)
        for a in expected:
            row = got[a.pid]
            if self._mask(a):
                event(f"RmGetList: a row masked {self._mask(a):#x}")
            assert rmcore.win32.filetime_to_int(row.Process.ProcessStartTime) == a.ident[1]
            assert row.ApplicationType == self._reported_type(a), a
            assert row.AppStatus == self._status(a), (a, hex(row.AppStatus))
            assert row.TSSessionId == self._reported_ts(a), a
            assert bool(row.bRestartable) == self._restartable_flag(a), a
            assert row.app_name == a.app.app_name
            assert row.service_short_name == a.service

    # -- rules: RmShutdown ---------------------------------------------------------------

    def _responsive(self, a: ModelApp) -> bool:
        timeout = SERVICE_TIMEOUT if a.is_service else APP_TIMEOUT
        return not a.refuses and a.delay < timeout

    @rule(
        flags=st.sampled_from([0, FORCE, ONLY_REGISTERED, FORCE | ONLY_REGISTERED]),
        then_list=st.booleans(),
    )
    def shutdown(self, flags: int, then_list: bool) -> None:
        self._shutdown(flags)
        if then_list:  # what AppStatus says right after (RmGetList page: "updated status")
            self.get_list()

    def _shutdown(self, flags: int) -> None:
        force = bool(flags & FORCE)
        listed = self._listed()
        reasons = 0
        for a in listed:
            reasons |= self._reasons(a)
        # What RmShutdown shuts down is what uses the registered resources now (it "calls
        # RmGetList to refresh the list", RmShutdown page), less what a filter masks. The rows
        # RmGetList keeps for apps RM acted on earlier are there to report their status: an
        # app that let go of every registered resource is not shut down (again).
        targets = [
            a for a in self.apps if self._affected(a) and not self._mask(a) & SHUTDOWN_MASKED
        ]
        by_ident = {a.ident: a for a in self.apps}  # identities before anything stops
        first_request = len(self.world.stop_requests)
        percents: list[int] = []
        callback = rmcore.win32.RM_WRITE_STATUS_CALLBACK(percents.append)

        code = self.primary.RmShutdown(self.handle, flags, callback)
        self.shut_down = True  # documented: RmRestart is out of sequence only before this

        assert all(0 <= p <= 100 for p in percents), percents
        assert all(x < y for x, y in itertools.pairwise(percents)), percents
        requested = [by_ident[ident] for ident in self.world.stop_requests[first_request:]]
        event(f"RmShutdown flags {flags:#x}: {code}, asked {min(len(requested), 3)}+ to stop")
        if reasons:
            # "nothing was shut down; some process/service needs a system restart" (RmShutdown page)
            assert code == winerror.ERROR_FAIL_NOACTION_REBOOT
            assert requested == []
            self._check_world_matches_model()
            return
        if flags & ONLY_REGISTERED and not all(self._restartable_flag(a) for a in targets):
            # "shut down only if all apps are registered for restart; otherwise nothing is
            # shut down" (RmShutdown page). Apps a filter keeps running are not shut down, so
            # they do not count (undocumented).
            assert code == _fidelity.SHUTDOWN_ONLY_REGISTERED_REFUSAL
            assert requested == []
            self._check_world_matches_model()
            return

        # Every affected running app not masked is asked, GUI < console < service < Explorer;
        # RmUnknownApp can only be shut down by force (RM_APP_TYPE), unresponsive apps too.
        will_stop = [
            a
            for a in targets
            if (force or a.app_type is not T.RmUnknownApp) and (force or self._responsive(a))
        ]
        failing = [a for a in targets if a not in will_stop]
        assert code == (winerror.ERROR_FAIL_SHUTDOWN if failing else winerror.ERROR_SUCCESS)
        assert len(set(requested)) == len(requested), "an app was asked to stop twice"
        outside = [a for a in requested if a not in targets]
        assert not outside, f"asked to stop apps that are not to be shut down: {outside}"
        ranks = [RANK[a.app_type] for a in requested]
        assert ranks == sorted(ranks), [(a.pid, a.app_type.name) for a in requested]
        stopped_now = [a for a in targets if not a.app.running]
        assert set(stopped_now) == set(will_stop), (
            [a.pid for a in stopped_now],
            [a.pid for a in will_stop],
        )
        assert set(will_stop) <= set(requested)

        for a in requested:
            if a in will_stop:
                a.running = False
                a.files.clear()  # a stopped process holds nothing
                a.history |= STOPPED
                self.pending.append(a)
        for a in failing:
            a.history |= ERROR_ON_STOP
        self._check_world_matches_model()

    # -- rules: RmRestart ----------------------------------------------------------------

    @precondition(lambda self: not self.shut_down)
    @rule()
    def restart_too_early(self) -> None:
        self._restart()

    @precondition(lambda self: self.shut_down)
    @rule(then_list=st.booleans())
    def restart(self, then_list: bool) -> None:
        self._restart()
        if then_list:
            self.get_list()

    def _restart(self) -> None:
        by_old_ident = {a.ident for a in self.pending}
        first_start = len(self.world.start_requests)
        percents: list[int] = []
        callback = rmcore.win32.RM_WRITE_STATUS_CALLBACK(percents.append)

        code = self.primary.RmRestart(self.handle, 0, callback)

        assert all(x < y for x, y in itertools.pairwise(percents)), percents
        started = self.world.start_requests[first_start:]
        event(f"RmRestart: {code}, relaunched {min(len(started), 3)}+")
        if not self.shut_down:
            # documented: 776 when called "before calling RmShutdown" (any RmShutdown call
            # that reached the session counts, whatever it returned)
            assert code == winerror.ERROR_REQUEST_OUT_OF_SEQUENCE
            assert started == []
            self._check_world_matches_model()
            return
        # Only apps RmShutdown stopped, registered for restart (or services), not masked by
        # a filter now, in reverse order of their shutdown (RmShutdown, RmRestart pages). One
        # whose restart failed is still "stopped by RmShutdown" and is tried again (a decision).
        due = [
            a
            for a in reversed(self.pending)
            if self._restartable_flag(a) and not self._mask(a) & RESTART_MASKED
        ]
        assert started == [a.app for a in due], (started, [a.pid for a in due])
        failed = [a for a in due if a.restart_fails]
        assert code == (winerror.ERROR_FAIL_RESTART if failed else winerror.ERROR_SUCCESS)
        for a in due:
            if a.restart_fails:
                a.history |= ERROR_ON_RESTART
            else:
                a.running = True
                a.history |= RESTARTED
                self.pending.remove(a)
                assert a.ident not in by_old_ident, "a restarted app is a new process"
        self._check_world_matches_model()


# A passing run takes ~10 s. No "explain" phase and one failure at a time, so that a
# failing run spends its time shrinking one example rather than explaining several.
AppsMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=30,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    report_multiple_bugs=False,
)
TestApps = AppsMachine.TestCase
