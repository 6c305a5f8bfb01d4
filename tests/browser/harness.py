"""Real servers and a real browser for the browser tests (and the app screenshot).

Everything here runs on this machine only: servers listen on 127.0.0.1 with a
token, Chromium is Debian's (``/usr/bin/chromium``), started with the flags that
keep it off the network, and every wait is bounded with a message that says
what did not happen.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rpkit.store.sqlite import sqlite3

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("RPKIT_CHROMIUM", "/usr/bin/chromium"))
INSTALL_HINT = "sudo apt-get install -y chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # as root Chromium refuses to start with its sandbox
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing_browser_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.is_file():
        return f"Chromium is not installed at {CHROMIUM}; install it with: {INSTALL_HINT}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing; run: make install"
    return None


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.25) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def wait_visible(page: Any, selector: str, what: str, timeout: float = 60) -> None:
    """Wait for ``selector`` to be visible; on a time-out say what the page shows instead."""
    try:
        page.locator(selector).first.wait_for(state="visible", timeout=timeout * 1000)
    except Exception as exc:
        text = " ".join(page.locator("body").inner_text(timeout=5000).split())[:600]
        raise AssertionError(
            f"{what} did not appear within {timeout:.0f} s; the page shows: {text!r}"
        ) from exc


class Server:
    """A server process on 127.0.0.1 with a token, stopped (process group and all) by ``stop``."""

    def __init__(
        self, name: str, cmd: list[str], *, port: int, token: str, env: dict, cwd: Path, log: Path
    ) -> None:
        self.name, self.port, self.token, self.log = name, port, token, log
        self.base = f"http://127.0.0.1:{port}"
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its kernels are in its process group: stopped with it
        )

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}{path}{sep}token={self.token}"

    def wait_ready(self, path: str, timeout: float = 90) -> None:
        """Wait until the server answers ``path`` over HTTP (any status: it is listening)."""

        def answers() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited with code {self.proc.returncode} before it answered; "
                    f"its log ({self.log}):\n{self.tail()}"
                )
            try:
                with urllib.request.urlopen(self.url(path), timeout=5) as r:
                    return r.status > 0
            except urllib.error.HTTPError:
                return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False

        try:
            wait_for(f"{self.name} to answer on {self.base}{path}", answers, timeout)
        except AssertionError:
            self.stop()
            raise

    def tail(self, lines: int = 40) -> str:
        self._log_file.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
            except ProcessLookupError:
                pass
        # kernels started in the same session that outlived the server
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._log_file.close()


def _root_flag() -> list[str]:
    return ["--allow-root"] if os.geteuid() == 0 else []


def jupyter_env(home: Path) -> dict:
    """An environment whose Jupyter config, settings, workspaces and runtime are under ``home``.

    Lab settings: every cell attached to the page (``windowingMode: none``, so the
    test sees all outputs), no news or update checks (no network, no pop-up).
    """
    env = dict(os.environ)
    for var, sub in [
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_SETTINGS_DIR", "settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
        ("IPYTHONDIR", "ipython"),
    ]:
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    settings = home / "settings" / "@jupyterlab"
    for ext, name, values in [
        ("notebook-extension", "tracker", {"windowingMode": "none"}),
        ("apputils-extension", "notification", {"checkForUpdates": False, "fetchNews": "false"}),
    ]:
        (settings / ext).mkdir(parents=True, exist_ok=True)
        (settings / ext / f"{name}.jupyterlab-settings").write_text(json.dumps(values))
    env.pop("MPLBACKEND", None)  # the notebooks draw with the inline backend
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_lab(root: Path, home: Path) -> Server:
    """``jupyter lab`` on ``root`` (no browser of its own), ready to serve."""
    port, token = free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        *_root_flag(),
    ]
    server = Server(
        "jupyter lab",
        cmd,
        port=port,
        token=token,
        env=jupyter_env(home),
        cwd=root,
        log=home / "jupyter-lab.log",
    )
    server.wait_ready("/api/status")
    return server


def start_app(db: Path, home: Path, data_dir: Path | None = None) -> Server:
    """The Voila app of ``make app`` (``scripts/serve_app.py``) on the history ``db``."""
    port, token = free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable,
        str(ROOT / "scripts" / "serve_app.py"),
        str(db),
        "--port",
        str(port),
        "--token",
        token,
        "--no-browser",
    ]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    server = Server(
        "the Voila app",
        cmd,
        port=port,
        token=token,
        env=jupyter_env(home),
        cwd=ROOT,
        log=home / "voila.log",
    )
    server.wait_ready("/api/status")
    return server


def launch_chromium(playwright: Any, user_data_dir: Path) -> Any:
    """Debian's Chromium, headless, in a new empty profile: a persistent browser context."""
    if user_data_dir.exists():
        shutil.rmtree(user_data_dir)
    user_data_dir.mkdir(parents=True)
    context = playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1400, "height": 1000},
    )
    context.blocked = []  # what a page asked for off this machine (Voila links a CDN's CSS)

    def only_loopback(route: Any) -> None:
        host = urllib.parse.urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            context.blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    return context


def unexpected_requests(context: Any) -> list[str]:
    """What pages asked for off this machine (all refused), less the two font style
    sheets that Voila's page template links from a CDN (its bundle holds the fonts too)."""
    return [
        url
        for url in context.blocked
        if not ("/@fortawesome/fontawesome-free@" in url and url.endswith(".min.css"))
    ]


class Steps:
    """Numbered screenshots of each step of a test, in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        self.n = 0

    def shot(self, page: Any, name: str) -> Path:
        self.n += 1
        path = self.folder / f"{self.n:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


def query(path: Path, sql: str, *args: object) -> list[tuple]:
    c = sqlite3.connect(path)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()
