"""`make demo` on a machine with nothing but Python: embedded servers, a real worker and beat, one Ctrl-C stops all."""

import http.cookiejar
import re
import signal
import urllib.error
import urllib.parse
import urllib.request

import psutil
import pytest

from tests import demo_stack


class Browser:
    """A cookie-keeping HTTP client that posts forms with their CSRF token, as a browser would."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str):
        response = self.opener.open(self.base + path, timeout=30)
        return response.geturl().removeprefix(self.base), response.read().decode()

    def post(self, path: str, data: dict, *, token_from: str):
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', token_from).group(1)
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": token}).encode()
        request = urllib.request.Request(self.base + path, data=body, headers={"Referer": self.base + path})
        response = self.opener.open(request, timeout=60)
        return response.geturl().removeprefix(self.base), response.read().decode()

    def log_in(self, username: str):
        _url, page = self.get("/login/")
        return self.post("/login/", {"username": username, "password": demo_stack.PASSWORD}, token_from=page)


@pytest.mark.worker
def test_the_demo_serves_both_kinds_of_user_runs_jobs_on_its_worker_and_stops_everything_on_ctrl_c(tmp_path):
    launcher, base, output = demo_stack.start(tmp_path)
    try:
        printed = output.read_text()
        assert f"coord-gz1      coordinator     {base}/\n" in printed
        assert f"staff-gz       city_staff      {base}/bureau/\n" in printed

        coordinator = Browser(base)
        url, page = coordinator.log_in("coord-gz1")
        assert url == "/"
        assert "越秀区示例第一中学" in page

        staff = Browser(base)
        url, dashboard = staff.log_in("staff-gz")
        assert url == "/bureau/"
        year = re.search(r'action="/bureau/reports/year-end/".*?name="year" value="(\d+)"', dashboard, re.S).group(1)
        url, _page = staff.post("/bureau/reports/year-end/", {"year": year}, token_from=dashboard)
        job = re.fullmatch(r"/bureau/jobs/(\d+)/", url).group(1)

        def report_ready():
            try:
                with staff.opener.open(f"{base}/bureau/jobs/{job}/download/", timeout=30) as response:
                    return response.status == 200 and response.read()[:2] == b"PK"  # a spreadsheet (zip)
            except urllib.error.HTTPError:
                return False

        demo_stack.wait(report_ready, 120, "the year-end report was not produced", output)
        # Run by the demo's own worker, not in the web process.
        worker_log = (tmp_path / "var" / "log" / "worker.log").read_text()
        assert re.search(r"Task enrollment\.year_end_report\[[^\]]+\] succeeded", worker_log), worker_log[-3000:]

        started = psutil.Process(launcher.pid).children(recursive=True)
        servers = [
            int((tmp_path / "var" / "pg" / "postmaster.pid").read_text().splitlines()[0]),
            int((tmp_path / "var" / "redis" / "redis.pid").read_text()),
        ]
        assert {"worker", "beat", "runserver"} <= {
            word for p in started for word in ("worker", "beat", "runserver") if word in " ".join(p.cmdline())
        }
    except BaseException:
        demo_stack.stop(launcher, tmp_path)
        raise

    try:
        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(90) == 0, output.read_text()
        gone, alive = psutil.wait_procs(started, timeout=10)
        assert alive == []
        assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in servers)
        assert output.read_text().rstrip().endswith("已全部停止。")
    finally:
        demo_stack.discard(tmp_path)
