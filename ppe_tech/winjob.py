"""Windows: children that die with this process, as PR_SET_PDEATHSIG gives on Linux.

One job object per process, made on first use with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE and
never inherited: a child assigned to it is terminated by Windows when the last handle to the
job closes, that is when this process ends for any reason (a crash, TerminateProcess, Task
Manager's "End task", a power button's logoff), so an ffmpeg cannot keep recording, and
holding the camera's stream and the segment files, with no supervisor. Off Windows,
`bind` does nothing and returns False.
"""

from __future__ import annotations

import subprocess
import sys

JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x2000
_EXTENDED_LIMIT_INFORMATION = 9  # JobObjectExtendedLimitInformation
_job: int | None = None


def _kernel32():
    import ctypes
    from ctypes import wintypes

    k32 = ctypes.WinDLL("kernel32", use_last_error=True)
    k32.CreateJobObjectW.restype = wintypes.HANDLE
    k32.CreateJobObjectW.argtypes = [ctypes.c_void_p, wintypes.LPCWSTR]
    k32.SetInformationJobObject.restype = wintypes.BOOL
    k32.SetInformationJobObject.argtypes = [wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p, wintypes.DWORD]
    k32.AssignProcessToJobObject.restype = wintypes.BOOL
    k32.AssignProcessToJobObject.argtypes = [wintypes.HANDLE, wintypes.HANDLE]
    k32.QueryInformationJobObject.restype = wintypes.BOOL
    k32.QueryInformationJobObject.argtypes = [wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p, wintypes.DWORD,
                                              ctypes.c_void_p]
    k32.CloseHandle.argtypes = [wintypes.HANDLE]
    return k32


def _limit_information():
    import ctypes
    from ctypes import wintypes

    class Basic(ctypes.Structure):
        _fields_ = [("PerProcessUserTimeLimit", ctypes.c_int64), ("PerJobUserTimeLimit", ctypes.c_int64),
                    ("LimitFlags", wintypes.DWORD), ("MinimumWorkingSetSize", ctypes.c_size_t),
                    ("MaximumWorkingSetSize", ctypes.c_size_t), ("ActiveProcessLimit", wintypes.DWORD),
                    ("Affinity", ctypes.c_size_t), ("PriorityClass", wintypes.DWORD),
                    ("SchedulingClass", wintypes.DWORD)]

    class IoCounters(ctypes.Structure):
        _fields_ = [(name, ctypes.c_uint64) for name in ("ReadOperationCount", "WriteOperationCount",
                                                         "OtherOperationCount", "ReadTransferCount",
                                                         "WriteTransferCount", "OtherTransferCount")]

    class Extended(ctypes.Structure):
        _fields_ = [("BasicLimitInformation", Basic), ("IoInfo", IoCounters),
                    ("ProcessMemoryLimit", ctypes.c_size_t), ("JobMemoryLimit", ctypes.c_size_t),
                    ("PeakProcessMemoryUsed", ctypes.c_size_t), ("PeakJobMemoryUsed", ctypes.c_size_t)]

    return Extended()


def job() -> int:
    """This process's kill-on-close job (made once); OSError when Windows refuses it."""
    global _job
    if _job is None:
        import ctypes

        k32 = _kernel32()
        handle = k32.CreateJobObjectW(None, None)  # no security attributes: not inheritable
        if not handle:
            raise ctypes.WinError(ctypes.get_last_error())
        info = _limit_information()
        info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
        if not k32.SetInformationJobObject(handle, _EXTENDED_LIMIT_INFORMATION, ctypes.byref(info),
                                           ctypes.sizeof(info)):
            error = ctypes.get_last_error()
            k32.CloseHandle(handle)
            raise ctypes.WinError(error)
        _job = handle
    return _job


def limit_flags() -> int:
    """The LimitFlags Windows keeps on this process's job (read back, for the tests)."""
    import ctypes

    info = _limit_information()
    if not _kernel32().QueryInformationJobObject(job(), _EXTENDED_LIMIT_INFORMATION, ctypes.byref(info),
                                                 ctypes.sizeof(info), None):
        raise ctypes.WinError(ctypes.get_last_error())
    return info.BasicLimitInformation.LimitFlags


def bind(proc: subprocess.Popen) -> bool:
    """Put `proc` in this process's job: True when Windows will kill it when this process ends.

    OSError when Windows refuses (the caller names it: an unbound child can outlive us)."""
    if sys.platform != "win32":
        return False
    import ctypes

    if not _kernel32().AssignProcessToJobObject(job(), int(proc._handle)):  # type: ignore[attr-defined]
        raise ctypes.WinError(ctypes.get_last_error())
    return True
