"""Refuse to run on a fake file system, where the store's locks would silently not lock."""

from __future__ import annotations

import sys
import types

__all__ = ["PYFAKEFS_SKIP_NAMES", "FakeFilesystemActive", "refuse_fake_filesystem"]

# The modules that touch the real file system; pyfakefs must leave them alone.
PYFAKEFS_SKIP_NAMES = (
    "rmcore.registry_store._disk",
    "rmcore.registry_store._fs",
    "rmcore.registry_store._mutex",
    "rmcore.registry_store._location",
    "rmcore.session._identity",
    "rmcore.session._liveness",
)
_STORE_MODULES = tuple(name for name in PYFAKEFS_SKIP_NAMES if ".registry_store." in name)


class FakeFilesystemActive(RuntimeError):
    """A misuse of the harness, not a Restart Manager failure: raised, never a code."""


def refuse_fake_filesystem() -> None:
    """Raise if pyfakefs has swapped a store module's ``os`` for its fake (where flock is a
    no-op and files live in memory): the store would stop excluding other processes."""
    for namespace in _namespaces or _store_namespaces():
        if type(namespace.get("os")) is not types.ModuleType:
            raise FakeFilesystemActive(
                "rmcore's store cannot run under an active pyfakefs patch (its file locks "
                "would silently stop working): pause pyfakefs around rmcore calls "
                "(fs.pause()) or pass "
                "additional_skip_names=rmcore.registry_store.PYFAKEFS_SKIP_NAMES"
            )


_namespaces: list[dict[str, object]] = []


def _store_namespaces() -> list[dict[str, object]]:
    """The store modules' namespaces, looked up once (this check runs on every mutex
    acquisition; a namespace is the live dict pyfakefs patches)."""
    _namespaces.extend(vars(sys.modules[name]) for name in _STORE_MODULES)
    return _namespaces
