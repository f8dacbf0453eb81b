"""Where a store lives when the caller does not say: a per-user, volatile directory."""

from __future__ import annotations

import os
import tempfile

__all__ = ["STORE_ENV_VAR", "default_store_path", "resolve_store_path"]

STORE_ENV_VAR = "RMCORE_STORE"


def _user_tag() -> str:
    getuid = getattr(os, "getuid", None)
    if getuid is not None:
        return str(getuid())
    import getpass

    return getpass.getuser()


def default_store_path() -> str:
    """``$RMCORE_STORE``, else ``$XDG_RUNTIME_DIR/rmcore``, else ``<tmp>/rmcore-<uid>``.

    Like the real hive's volatile key, all three live for the login or until reboot, not
    longer, and none is shared between users.
    """
    configured = os.environ.get(STORE_ENV_VAR)
    if configured:
        return os.path.abspath(configured)
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    if runtime_dir and os.path.isdir(runtime_dir):
        return os.path.join(runtime_dir, "rmcore")
    return os.path.join(tempfile.gettempdir(), f"rmcore-{_user_tag()}")


def resolve_store_path(store: str | os.PathLike[str] | None) -> str:
    """The absolute store directory for an argument that may be ``None`` (the default)."""
    return default_store_path() if store is None else os.path.abspath(os.fspath(store))
