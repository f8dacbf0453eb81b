"""Who holds what: the simulated World (and the host's), and what RmGetList, RmShutdown and
RmRestart do with the apps of a session."""

from ._world import App, AppId, Clock, World, WorldView

__all__ = ["App", "AppId", "Clock", "World", "WorldView"]
