"""Process checks shared by the ingester tests."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """Any thread of the process still running (a zombie holds no file and no lock, but its
    main thread turns zombie before the other threads have exited and closed the files).

    A process being reaped while we read makes /proc answer ENOENT or ESRCH
    (ProcessLookupError): both mean that thread is gone."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except (FileNotFoundError, ProcessLookupError):
        return False
    for thread in threads:
        try:
            with open(f"/proc/{pid}/task/{thread}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                    return True
        except (FileNotFoundError, ProcessLookupError):
            continue
    return False
