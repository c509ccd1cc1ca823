"""Whether this machine lets bubblewrap make the sandbox's namespaces, probed once per process
with the sandbox's own namespace flags. Refused (Docker's default seccomp or AppArmor profile, a
masked /proc, a host that forbids unprivileged user namespaces), code_interpreter cannot work:
`sandbox check`, the run's last_error and the start-up log say so in one line naming the fix,
rather than blaming each execution on the sandbox's limits."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import threading

PROBE_TIMEOUT = 30.0  # seconds; bwrap answers in milliseconds when it can run at all

FIX = (
    "in Docker or Compose, run with the project's profile (compose.yaml does: security_opt "
    "seccomp=./deploy/seccomp-bubblewrap.json, apparmor=unconfined, systempaths=unconfined; "
    "docker run: --security-opt each of those) as a non-root user; on a host, allow "
    "unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, or "
    "kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu). SANDBOX_BACKEND has no other "
    "backend: without namespaces code_interpreter stays off"
)


def probe_argv() -> list[str]:
    """The sandbox's namespace flags (bwrap.py) around `true`, with the mounts that need them."""
    argv = ["bwrap", "--die-with-parent", "--unshare-pid", "--unshare-net", "--unshare-ipc"]
    argv += ["--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
    if os.getuid() != 0:
        argv += ["--unshare-user", "--disable-userns"]
    argv += ["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--", "true"]
    return argv


@functools.cache
def namespaces_refused() -> str | None:
    """One line saying that and how bubblewrap is refused its namespaces here, else None."""
    if shutil.which("bwrap") is None:
        return None  # said by the backend: install bubblewrap
    try:
        done = subprocess.run(
            probe_argv(),
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap could not be started ({type(error).__name__}): {FIX}"
    if done.returncode == 0:
        return None
    said = " ".join(done.stderr.split())[:300] or f"exit status {done.returncode}"
    return f"this machine refuses bubblewrap the namespaces code_interpreter needs ({said}): {FIX}"


def start_warning() -> str | None:
    """What the start-up log says when code_interpreter cannot work on this machine."""
    if shutil.which("bwrap") is None:
        return (
            "code_interpreter will fail: bubblewrap is not installed (e.g. `apt-get install "
            "bubblewrap`)"
        )
    refused = namespaces_refused()
    return f"code_interpreter will fail: {refused}" if refused else None


def warn_at_start(log: logging.Logger) -> None:
    """Probe in a thread (start-up does not wait for bwrap) and log the one line if refused."""

    def probe() -> None:
        warning = start_warning()
        if warning:
            log.warning(warning)

    threading.Thread(target=probe, name="sandbox-probe", daemon=True).start()
