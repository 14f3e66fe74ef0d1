"""What every benchmark writes beside its figures: the machine, and the table itself."""

from __future__ import annotations

import os
import platform


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where available)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    """``"<CPU model> (<n> cores)"``."""
    return f"{cpu_model()} ({os.cpu_count()} cores)"


def emit(lines: list[str], out: str | None) -> None:
    """Print the report and, if ``out`` is given, write it there too."""
    text = "\n".join(lines)
    print(text)
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")
