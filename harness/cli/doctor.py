"""``mediafault doctor``: what this machine can run, with versions, and the command that fixes each gap."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from harness.reproduce.engines import probe_all
from harness.reproduce.engines.base import PLAYWRIGHT_INSTALL, install_hint
from harness.scenario.model import ENGINES


@dataclass(frozen=True)
class Finding:
    """One line of the report."""

    area: str
    item: str
    ok: bool
    detail: str
    fix: str = ""


def _run(*cmd: str) -> str:
    try:
        out = subprocess.run(list(cmd), capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else ""


def _userns() -> bool:
    if not shutil.which("unshare"):
        return False
    try:
        return subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=10, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def findings() -> list[Finding]:
    """Everything doctor checks."""
    out: list[Finding] = []
    routes = probe_all()
    for engine in ENGINES:
        mine = [r for r in routes if r.engine == engine]
        for info in mine:
            out.append(Finding(f"engine {engine}", info.route, info.available,
                               f"{info.version} ({info.executable})" if info.available else info.reason,
                               "" if info.available else _route_fix(engine, info.route)))
    xvfb = shutil.which("Xvfb")
    out.append(Finding("display", "Xvfb", bool(xvfb or os.environ.get("DISPLAY")),
                       xvfb or os.environ.get("DISPLAY", "missing: WebKitGTK and headed Chromium cannot run"),
                       "" if xvfb else "apt-get install xvfb"))
    root = os.geteuid() == 0
    out.append(Finding("network lab", "privileges", root or _userns(),
                       "root" if root else ("unprivileged user namespaces (unshare -rn)" if _userns()
                                            else "neither root nor user namespaces"),
                       "" if root or _userns() else "run as root, or allow user namespaces "
                       "(sysctl kernel.unprivileged_userns_clone=1)"))
    # iptables: its NFQUEUE target feeds the lab's user-space shaper (kernels without sch_netem).
    for tool, flag, package in (("ip", "-V", "iproute2"), ("nft", "--version", "nftables"),
                                ("iptables", "--version", "iptables"), ("turnserver", "--version", "coturn")):
        path = shutil.which(tool)
        out.append(Finding("network lab", tool, bool(path), _run(tool, flag) or path or "missing",
                           "" if path else f"apt-get install {package}"))
    from harness.cli.grid import JAR_INSTALL, JAVA_INSTALL, find_jar, java_version

    java = java_version()
    out.append(Finding("selenium grid", "java", bool(java), java or "missing", "" if java else JAVA_INSTALL))
    jar = find_jar()
    out.append(Finding("selenium grid", "server jar", jar is not None, str(jar) if jar else "missing",
                       "" if jar else JAR_INSTALL))
    from harness.report.html import SETUP_COMMAND, tools_state

    for item, ok, detail in tools_state():
        out.append(Finding("html report", item, ok, detail, "" if ok else SETUP_COMMAND))
    from harness.app.profiles import builtin_profiles
    from harness.run import conformance

    for item, ok, detail in conformance.sdk_state(list(builtin_profiles().values())):
        out.append(Finding("sdk probes", item, ok, detail, "" if ok else conformance.SETUP_COMMAND))
    return out


def _route_fix(engine: str, route: str) -> str:
    if route == "playwright":
        return f"optional: '{PLAYWRIGHT_INSTALL.format(engine=engine)}' where downloads are allowed"
    return install_hint(engine)


def render(items: list[Finding]) -> str:
    """The report as aligned text, then the fixes."""
    width = max(len(f"{f.area}: {f.item}") for f in items)
    lines = [f"{'ok ' if f.ok else '-- '} {f'{f.area}: {f.item}':<{width}}  {f.detail}" for f in items]
    fixes = [f"  {f.area}: {f.item}: {f.fix}" for f in items if not f.ok and f.fix]
    usable = sorted({f.area.split()[1] for f in items if f.area.startswith("engine") and f.ok})
    lines.append("")
    lines.append(f"engines usable here: {', '.join(usable) or 'none'}")
    if fixes:
        lines += ["", "to fix:", *fixes]
    return "\n".join(lines)
