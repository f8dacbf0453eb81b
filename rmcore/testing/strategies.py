"""Hypothesis strategies for Restart Manager values and whole simulated worlds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from ..win32._types import RM_APP_TYPE, RM_UNIQUE_PROCESS
from ..world._world import World

__all__ = [
    "file_paths",
    "handles",
    "malformed_keys",
    "resource_lists",
    "session_keys",
    "unique_processes",
    "worlds",
]

_HEX = "0123456789abcdef"
_NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=12)


def session_keys() -> st.SearchStrategy[str]:
    """Well-formed keys: 32 lower-case hex digits (most name no session)."""
    return st.text(alphabet=_HEX, min_size=32, max_size=32)


def malformed_keys() -> st.SearchStrategy[str]:
    """Strings that can never be a session key (wrong length or not hex)."""
    return st.one_of(
        st.text(alphabet=_HEX, max_size=31),
        st.text(alphabet=_HEX, min_size=33, max_size=40),
        st.text(min_size=32, max_size=32).filter(lambda s: not set(s) <= set(_HEX + "ABCDEF")),
    )


def handles() -> st.SearchStrategy[int]:
    """DWORD handle values, biased to the small ones real processes get."""
    return st.one_of(st.integers(0, 70), st.just(0xFFFFFFFF), st.integers(0, 0xFFFFFFFF))


def file_paths(
    folders: Sequence[str] = ("C:\\Program Files\\App", "C:\\Data"),
) -> st.SearchStrategy[str]:
    """Full Windows paths of files."""
    return st.builds(
        lambda folder, stem, ext: f"{folder}\\{stem}.{ext}",
        st.sampled_from(list(folders)),
        _NAME,
        st.sampled_from(["dll", "exe", "txt", "dat"]),
    )


def unique_processes() -> st.SearchStrategy[RM_UNIQUE_PROCESS]:
    """RM_UNIQUE_PROCESS values (PID and start FILETIME)."""

    return st.builds(RM_UNIQUE_PROCESS.of, st.integers(0, 0xFFFFFFFF), st.integers(0, 2**63 - 1))


def resource_lists(
    paths: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[tuple[list[str], list[tuple[int, int]], list[str]]]:
    """(files, (PID, start) pairs, service names) as RmRegisterResources takes them."""
    return st.tuples(
        st.lists(paths if paths is not None else file_paths(), max_size=8),
        st.lists(st.tuples(st.integers(1, 65535), st.integers(0, 2**63 - 1)), max_size=3),
        st.lists(_NAME, max_size=3),
    )


@st.composite
def worlds(
    draw: st.DrawFn, files: Sequence[str] = ("C:\\a.dll", "C:\\b.dll", "C:\\c.dat")
) -> World:
    """A simulated world: 1-6 processes and services, each holding some of *files*."""
    world = World()
    for index in range(draw(st.integers(1, 6))):
        held = draw(st.lists(st.sampled_from(list(files)), unique=True, max_size=len(files)))
        behaviour: dict[str, Any] = {
            "restartable": draw(st.booleans()),
            "refuses_shutdown": draw(st.booleans()),
            "shutdown_delay": draw(st.sampled_from([0.0, 5.0, 45.0])),
            "restart_fails": draw(st.booleans()),
        }
        if draw(st.booleans()):
            world.add_service(f"svc{index}", files=held, **behaviour)
        else:
            app_type = draw(
                st.sampled_from(
                    [
                        RM_APP_TYPE.RmMainWindow,
                        RM_APP_TYPE.RmOtherWindow,
                        RM_APP_TYPE.RmConsole,
                        RM_APP_TYPE.RmUnknownApp,
                        RM_APP_TYPE.RmExplorer,
                    ]
                )
            )
            world.add_process(
                f"C:\\apps\\app{index}.exe", files=held, app_type=app_type, **behaviour
            )
    return world
