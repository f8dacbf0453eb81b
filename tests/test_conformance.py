"""The shipped conformance suite: on the simulator here, on the real DLL on Windows CI
(RMCORE_TEST_REAL_DLL=1)."""

from rmcore.testing.conformance import *  # noqa: F403 - the tests and their rm_backend fixture
