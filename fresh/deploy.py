"""`make up` / `make down` / `make status` / `make logs`: N shop processes under supervisor behind nginx, one machine.

`python -m fresh.deploy render` fills the templates (conf/supervisord.conf, nginx/nginx.conf, nginx/fresh.conf) for
this checkout into <var>/deploy/; `up` renders, checks the nginx file with `nginx -t`, starts supervisord (which
runs the app processes, nginx and, outside production, the local Alipay sandbox) and waits until every instance
answers. Everything the processes write (logs, pid files, sockets, nginx's temp files, the static index) stays
under the var directory, so several checkouts (or a test on free ports) run side by side.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import jinja2

from fresh.sessions import COOKIE_NAME
from fresh.settings import ROOT, Settings, WebSettings, load_settings

TEMPLATES = {
    "supervisord.conf": ROOT / "conf" / "supervisord.conf",
    "nginx.conf": ROOT / "nginx" / "nginx.conf",
    "fresh.conf": ROOT / "nginx" / "fresh.conf",
}


class DeployError(RuntimeError):
    """Something `make up` needs is missing or did not come up."""


@dataclass(frozen=True)
class Layout:
    """Where everything of one deployment lives, and its ports."""

    var: Path
    app_ports: tuple[int, ...]
    public_port: int = 8080
    listen_host: str = ""  # "" listens on every address, as a user-facing server does
    sandbox_port: int | None = None  # None: no local sandbox (production)
    base_url: str | None = None  # exported to the apps as FRESH_WEB_BASE_URL when set
    max_body_size: int = 1024 * 1024
    max_upload_size: int = 3 * 1024 * 1024
    # nginx must end idle upstream connections before the app does (web.idle_connection_timeout).
    upstream_keepalive_timeout: int = 20
    stop_wait: int = 10
    # Several machines (fresh/cluster.py): this machine's part and the others' addresses. The defaults are the
    # one-machine deployment above: app processes on 127.0.0.1 and nginx in front of them on the same machine.
    app_host: str = "127.0.0.1"  # the address the app processes listen on
    upstream_hosts: tuple[str, ...] = ()  # nginx's upstream "host:port" list; empty: 127.0.0.1 and app_ports
    # How many failed attempts mark an upstream down for upstream_fail_timeout seconds (0: never, see fresh.conf).
    upstream_max_fails: int = 0
    upstream_fail_timeout: int = 10
    run_nginx: bool = True  # False on an app machine: the load balancer runs elsewhere
    trusted_proxies: str = "127.0.0.1,::1"  # the nginx machines, whose X-Real-IP / X-Forwarded-Proto are believed
    # Settings of this machine (FRESH_* name, value) for the app processes and the sandbox, on top of the
    # environment supervisord runs in: the other machines' addresses. Secrets stay in that environment.
    environment: tuple[tuple[str, str], ...] = ()

    @property
    def upstreams(self) -> tuple[str, ...]:
        return self.upstream_hosts or tuple(f"127.0.0.1:{port}" for port in self.app_ports)

    @property
    def deploy_dir(self) -> Path:
        return self.var / "deploy"

    @property
    def log_dir(self) -> Path:
        return self.var / "log"

    @property
    def run_dir(self) -> Path:
        return self.var / "run"

    @property
    def nginx_prefix(self) -> Path:
        return self.var / "nginx"

    @property
    def static_index_dir(self) -> Path:
        return self.var / "www"

    @property
    def static_index(self) -> Path:
        return self.static_index_dir / "index.html"

    @property
    def media_dir(self) -> Path:
        return self.var / "media"

    @property
    def supervisord_conf(self) -> Path:
        return self.deploy_dir / "supervisord.conf"

    @property
    def nginx_conf(self) -> Path:
        return self.deploy_dir / "nginx.conf"

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.public_port}/"


def make_layout(cfg: Settings, *, processes: int = 2, public_port: int = 8080, first_app_port: int = 8001,
                app_ports: list[int] | None = None, sandbox: bool | None = None, listen_host: str = "") -> Layout:
    """The layout for these settings: var/ from cfg.var_dir, app ports first_app_port.. unless given."""
    if app_ports is None:
        if not 1 <= processes <= 64:
            raise DeployError("the number of app processes must be between 1 and 64")
        app_ports = [first_app_port + i for i in range(processes)]
    if sandbox is None:
        sandbox = not cfg.production
    # An explicitly configured public URL (conf/fresh.toml or FRESH_WEB_BASE_URL) wins; the default one points
    # at the shop's own port, which nginx now owns.
    default_url = cfg.web.base_url == WebSettings().base_url
    return Layout(
        var=cfg.var_path.resolve(),
        app_ports=tuple(app_ports),
        public_port=public_port,
        listen_host=listen_host,
        app_host=cfg.web.host,
        sandbox_port=cfg.sandbox.port if sandbox else None,
        base_url=f"http://127.0.0.1:{public_port}" if default_url else None,
        max_body_size=cfg.web.max_body_size,
        max_upload_size=cfg.web.max_upload_size,
        upstream_keepalive_timeout=max(1, int(cfg.web.idle_connection_timeout * 2 / 3)),
    )


def _supervisor_value(value: str) -> str:
    """A double-quoted value for supervisor's `environment` (which also expands %(name)s)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%") + '"'


def app_environment(layout: Layout) -> dict[str, str]:
    """What the app processes need from the deployment on top of the environment supervisord runs in."""
    env = {
        "FRESH_VAR_DIR": str(layout.var),
        # X-Real-IP / X-Forwarded-Proto are believed from this nginx only (the app's own check, fresh.proxy).
        "FRESH_WEB_XHEADERS": "true",
        "FRESH_WEB_TRUSTED_PROXIES": layout.trusted_proxies,
        "FRESH_CATALOG_STATIC_INDEX": str(layout.static_index),
    }
    if layout.base_url:
        env["FRESH_WEB_BASE_URL"] = layout.base_url
    env.update(layout.environment)
    return env


def _nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        raise DeployError("nginx is not installed (make up installs it: apt-get install nginx)")
    return found


def _mime_types() -> str:
    for candidate in ("/etc/nginx/mime.types", "/usr/local/nginx/conf/mime.types",
                      "/opt/homebrew/etc/nginx/mime.types"):
        if Path(candidate).is_file():
            return candidate
    raise DeployError("nginx's mime.types was not found")


def render(layout: Layout) -> list[Path]:
    """Write the three configuration files for this layout under <var>/deploy/; return their paths."""
    for folder in (layout.deploy_dir, layout.log_dir, layout.run_dir, layout.nginx_prefix, layout.static_index_dir,
                   layout.media_dir):
        folder.mkdir(parents=True, exist_ok=True)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(ROOT)), undefined=jinja2.StrictUndefined, autoescape=False,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    python = Path(sys.executable)
    sandbox_env = {"FRESH_VAR_DIR": str(layout.var), **dict(layout.environment)}
    context = {
        **{f.name: getattr(layout, f.name) for f in dataclasses.fields(layout)},
        "root": str(ROOT),
        "var": str(layout.var),
        "deploy_dir": str(layout.deploy_dir),
        "log_dir": str(layout.log_dir),
        "run_dir": str(layout.run_dir),
        "nginx_prefix": str(layout.nginx_prefix),
        "static_index_dir": str(layout.static_index_dir),
        "media_dir": str(layout.media_dir),
        "upstreams": layout.upstreams,
        "listen": f"{layout.listen_host}:{layout.public_port}" if layout.listen_host else str(layout.public_port),
        "session_cookie": COOKIE_NAME,
        "python": str(python),
        "nginx": _nginx_binary(),
        "mime_types": _mime_types(),
        # nginx started as root would run its workers as `nobody`, who may not read this checkout or var/.
        "user": "root" if os.geteuid() == 0 else "",
        "workers": min(2, os.cpu_count() or 1),
        "app_environment": ",".join(f"{k}={_supervisor_value(v)}" for k, v in app_environment(layout).items()),
        "sandbox_environment": ",".join(f"{k}={_supervisor_value(v)}" for k, v in sandbox_env.items()),
    }
    written = []
    for name, template in TEMPLATES.items():
        text = env.get_template(str(template.relative_to(ROOT))).render(**context)
        target = layout.deploy_dir / name
        tmp = target.with_name(f".{name}.{os.getpid()}")
        tmp.write_text(text)
        tmp.replace(target)
        written.append(target)
    return written


def nginx_test(layout: Layout, *, on: tuple[str, ...] = ()) -> str:
    """`nginx -t` on the rendered configuration (run with the `on` prefix, as `start`); raises DeployError with
    nginx's words when it is not clean."""
    result = subprocess.run(
        [*on, _nginx_binary(), "-t", "-q", "-p", str(layout.nginx_prefix), "-c", str(layout.nginx_conf)],
        capture_output=True, text=True, timeout=30,
    )
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or output:
        raise DeployError(f"nginx -t: {output or 'failed'}")
    return output


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def supervisord_pid(layout: Layout) -> int | None:
    """The running supervisord's pid from its pid file, or None."""
    try:
        pid = int((layout.run_dir / "supervisord.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def supervisorctl(layout: Layout, *args: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([_bin("supervisorctl"), "-c", str(layout.supervisord_conf), *args],
                          capture_output=True, text=True, timeout=60, check=check)


def start(layout: Layout, *, env: dict | None = None, on: tuple[str, ...] = ()) -> int:
    """Start supervisord (it daemonizes) unless it runs already; return its pid. `on` prefixes the command (the
    cluster rehearsal's `ip netns exec <host>`): supervisord and everything it runs live where it started."""
    pid = supervisord_pid(layout)
    if pid is not None:
        # Running: pick up a changed configuration (N, ports) without stopping what did not change, and have
        # nginx re-read its upstream list.
        supervisorctl(layout, "update")
        if layout.run_nginx:
            supervisorctl(layout, "signal", "HUP", "nginx")
        return pid
    subprocess.run([*on, _bin("supervisord"), "-c", str(layout.supervisord_conf)], check=True, timeout=30,
                   env=env, cwd=str(ROOT))
    deadline = time.monotonic() + 10
    while (pid := supervisord_pid(layout)) is None:
        if time.monotonic() > deadline:
            raise DeployError(f"supervisord did not start; see {layout.log_dir / 'supervisord.log'}")
        time.sleep(0.1)
    return pid


def answers(url: str) -> bool:
    """Whether `url` answers 200 within 2 s."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_ready(layout: Layout, *, timeout: float = 60.0) -> None:
    """Until every instance is ready (/readyz: MariaDB and Redis answer), then nginx in front of them."""
    deadline = time.monotonic() + timeout
    for group in ([f"http://127.0.0.1:{port}/readyz" for port in layout.app_ports],
                  [f"http://127.0.0.1:{layout.public_port}/healthz"]):
        while group:
            group = [url for url in group if not answers(url)]
            if not group:
                break
            if time.monotonic() > deadline:
                raise DeployError(f"not ready after {timeout:.0f}s: {', '.join(group)}; see {layout.log_dir}/")
            time.sleep(0.25)


def stop(layout: Layout, *, timeout: float = 60.0) -> bool:
    """Stop supervisord and everything it runs; False when it was not running."""
    pid = supervisord_pid(layout)
    if pid is None:
        return False
    supervisorctl(layout, "shutdown")
    deadline = time.monotonic() + timeout
    while supervisord_pid(layout) == pid:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGTERM)
            raise DeployError(f"supervisord {pid} did not stop within {timeout:.0f}s")
        time.sleep(0.1)
    return True


def log_files(layout: Layout) -> list[Path]:
    """The app processes' logs (whatever N they ran with), the sandbox's, nginx's and supervisord's."""
    names = ["sandbox.log", "nginx-access.log", "nginx-error.log", "supervisord.log"]
    return sorted(layout.log_dir.glob("app-*.log")) + [layout.log_dir / name for name in names]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fresh.deploy", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("render", "up", "down", "status", "logs"))
    parser.add_argument("--processes", "-n", type=int, default=2, help="app processes (default 2)")
    parser.add_argument("--port", type=int, default=8080, help="nginx's public port (default 8080)")
    parser.add_argument("--first-app-port", type=int, default=8001, help="ports of the app processes start here")
    args = parser.parse_args(argv)
    cfg = load_settings()
    layout = make_layout(cfg, processes=args.processes, public_port=args.port, first_app_port=args.first_app_port)
    try:
        if args.command == "render":
            for path in render(layout):
                print(path)
            nginx_test(layout)
        elif args.command == "up":
            render(layout)
            nginx_test(layout)
            start(layout)
            wait_ready(layout)
            print(f"dailyfresh: {len(layout.app_ports)} processes on ports "
                  f"{', '.join(map(str, layout.app_ports))} behind nginx at {layout.public_url}")
            print(f"logs in {layout.log_dir}/ (make logs), stop with make down")
        elif args.command == "down":
            print("stopped" if stop(layout) else "not running")
        elif args.command == "status":
            if supervisord_pid(layout) is None:
                print("not running")
            else:
                print(supervisorctl(layout, "status").stdout, end="")
        elif args.command == "logs":
            files = [str(p) for p in log_files(layout) if p.exists()]
            if not files:
                sys.exit(f"no logs in {layout.log_dir}/ yet (make up)")
            os.execvp("tail", ["tail", "-n", "20", "-F", *files])
    except DeployError as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
