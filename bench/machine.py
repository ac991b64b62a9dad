"""The machine a run measured: the figures mean little without it."""

import os
import platform
import shutil
import sqlite3
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def _first(path: str, prefix: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu() -> str:
    model = _first("/proc/cpuinfo", "model name") or platform.processor() or "?"
    # SHA-256 runs several times faster with them: every upload is hashed.
    flags = (_first("/proc/cpuinfo", "flags") or "").split()
    sha = "with" if "sha_ni" in flags else "without"
    return f"{model}, {os.cpu_count()} cores, {sha} SHA instructions"


def memory() -> str:
    total = _first("/proc/meminfo", "MemTotal")
    if total is None:
        return "?"
    return f"{int(total.split()[0]) / 1024 / 1024:.1f} GiB"


def disk(path: Path) -> str:
    """Describe the device and filesystem that hold path."""
    findmnt = shutil.which("findmnt")
    if findmnt is None:
        return "?"
    answer = subprocess.run(
        [findmnt, "-n", "-o", "SOURCE,FSTYPE,OPTIONS", "-T", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if answer.returncode != 0 or not answer.stdout.split():
        return "?"
    source, fstype, options = (answer.stdout.split() + ["", ""])[:3]
    device = Path(source).name.rstrip("0123456789")
    rotational = Path(f"/sys/block/{device}/queue/rotational")
    # Virtual disks often claim to rotate: this is what the kernel was told.
    flag = (
        f", rotational={rotational.read_text().strip()}" if rotational.exists() else ""
    )
    return f"{source} ({fstype}, {options}){flag}"


def package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def tool(executable: str, flag: str) -> str:
    found = shutil.which(executable) or shutil.which(executable, path="/usr/sbin")
    if found is None:
        return "not installed"
    answer = subprocess.run([found, flag], capture_output=True, text=True, check=False)
    text = (answer.stdout or answer.stderr).strip().splitlines()
    return text[0] if text else "?"


def describe(workdir: Path) -> list[tuple[str, str]]:
    return [
        ("CPU", cpu()),
        ("Memory", memory()),
        ("Disk (temp dir)", disk(workdir)),
        ("Kernel", f"{platform.system()} {platform.release()}"),
        ("Load before the run", " ".join(f"{load:.2f}" for load in os.getloadavg())),
        ("Python", platform.python_version()),
        ("SQLite", sqlite3.sqlite_version),
        ("gunicorn", package("gunicorn")),
        ("Flask / Werkzeug", f"{package('flask')} / {package('werkzeug')}"),
        ("copyparty", package("copyparty")),
        ("nginx", tool("nginx", "-v").removeprefix("nginx version: ")),
        ("wrk", tool("wrk", "-v")),
    ]
