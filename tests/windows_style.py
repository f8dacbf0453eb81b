"""Struct definitions written the way Windows ctypes code (and PyPI restartmgr) writes them:
``c_wchar`` arrays and ``c_ulong`` fields, which have other sizes off Windows (restartmanager.h).
rmcore must read and write them by field name."""

from __future__ import annotations

import ctypes
from ctypes import wintypes


class CallerUniqueProcess(ctypes.Structure):
    _fields_ = (("dwProcessId", ctypes.c_ulong), ("ProcessStartTime", wintypes.FILETIME))


class CallerProcessInfo(ctypes.Structure):
    _fields_ = (
        ("Process", CallerUniqueProcess),
        ("strAppName", ctypes.c_wchar * 256),
        ("strServiceShortName", ctypes.c_wchar * 64),
        ("ApplicationType", ctypes.c_int),
        ("AppStatus", ctypes.c_ulong),
        ("TSSessionId", ctypes.c_ulong),
        ("bRestartable", ctypes.c_int),
    )
