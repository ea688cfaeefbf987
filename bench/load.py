"""Load benchmark of the production server: portal roster page, API list, and a trivial baseline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ins_bench .venv/bin/python bench/load.py \
        [--students 5000] [--clients 16] [--seconds 30] [--portal-url /roster/] [--workers 5]

It (1) migrates the given PostgreSQL database and fills a school with N
students (bulk_create, then the enrollment rules' bulk refresh) plus a small
school of 100, (2) counts the SQL queries of one request to each page at 100
and at N students with the test client, (3) runs collectstatic and starts
gunicorn (DEBUG=0, 127.0.0.1 only) and (4) sends requests from C threads for S
seconds on each target in turn: the portal roster page (logged-in coordinator
session), the API list (token) and /health/ (baseline). It prints p50/p95
latency, requests per second and errors per target, the ratio of each to the
baseline, and the queries per request.

Targets: p95 <= 100 ms, 0 errors, queries per request <= 10 and the same at
100 and N students. The database is the bench's own: it is emptied of the
bench's schools first, never dropped.

Measured on the 2-core development machine (server, PostgreSQL and the 16
client processes on the same two cores), 5 workers, 30 s each, five runs of
the current code: roster page 220-246 req/s, p50 64-71 ms, p95 81-91 ms, 5
queries (its counts and lists come from the cache, keyed by the roster version
and the school's data stamp; 8 queries on a miss); API list 320-417 req/s, p50
35-47 ms, p95 56-78 ms, 2 queries (a coordinator's pages come from the cache,
keyed by the school's data stamp and the URL); /health/ 874-1132 req/s, p95
21-35 ms; 0 errors. The machine's speed varies from hour to hour: earlier the
same day /health/ ran at 717 req/s and the roster page's p95 was 108-136 ms.
Before the API list cache: 157-167 req/s, p95 122-131 ms. Before the roster
page cache: 56 req/s, p95 338 ms. Under a closed loop of 16 clients the
latency is 16 / throughput: p95 <= 100 ms needs about 200 req/s, about 10 ms
of the two cores a request, the load generator's own 0.4-0.5 ms included.
"""

import argparse
import datetime
import http.client
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET_KEY = secrets.token_urlsafe(64)
HOST = "127.0.0.1"



def _name(n: int) -> str:
    # Names hold no Arabic digits (the student rules refuse them).
    return "学生" + "".join("零一二三四五六七八九"[int(d)] for d in str(n))

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--portal-url", default="/roster/", help="portal page of the coordinator's school")
    parser.add_argument("--api-url", default="/api/v1/students")
    parser.add_argument("--baseline-url", default="/health/")
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2 + 1, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    return parser.parse_args()


def server_env(static_root: str) -> dict:
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": HOST,
        "STATIC_ROOT": static_root,
        # Plain HTTP on the loopback: no redirect to HTTPS, cookies without Secure.
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "SECURE_HSTS_SECONDS": "0",
        "API_THROTTLE_USER": "1000000/min",
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/8"),
    }
    env.pop("PYTEST_VERSION", None)
    return env


def setup_django(env: dict):
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


# --- data -------------------------------------------------------------------


def build_data(n_students: int):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from knox.models import AuthToken

    from enrollment import identity
    from enrollment.models import City, InsuranceYear, Membership, Office, School, Student

    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)
    city, _c = City.objects.get_or_create(code="bench-city", defaults={"name": "压测市"})
    office, _c = Office.objects.get_or_create(
        code="bench-office", defaults={"city": city, "name": "压测分局", "district": "压测区", "address": "压测路1号"}
    )
    today = datetime.date.today()
    year, _c = InsuranceYear.objects.get_or_create(
        city=city, label="bench",
        defaults={
            "coverage_start": today.replace(month=1, day=1) + datetime.timedelta(days=366),
            "coverage_end": today.replace(month=12, day=31) + datetime.timedelta(days=366),
            "fee_standard": "200.00",
            "window_start": today - datetime.timedelta(days=30),
            "window_end": today + datetime.timedelta(days=30),
            "collection_route": "bank_debit",
        },
    )
    users = {}
    schools = {}
    for code, size in (("BENCH-SMALL", 100), ("BENCH-LARGE", n_students)):
        school, _c = School.objects.get_or_create(
            code=code, defaults={"name": f"压测学校{code[-5:]}", "office": office, "kind": "primary_secondary", "final_grade": 12}
        )
        if Student.objects.filter(school=school).count() != size:
            _reset_school(school)
            region = "440104" if code.endswith("SMALL") else "440105"
            students = []
            for i in range(size):
                birth = datetime.date(2008, 1, 1) + datetime.timedelta(days=i // 900)
                number = identity.generate(region=region, birth=birth, sequence=i % 900)
                students.append(Student(
                    school=school, identity_number=number, name=_name(i), sex=identity.sex(number),
                    birth_date=birth, grade=1 + i % 12, class_name=f"{1 + i % 12}年级{1 + i % 8}班",
                ))
            Student.objects.bulk_create(students, batch_size=2000)
            _refresh_enrollments(school, year)
        user, _c = get_user_model().objects.get_or_create(username=f"bench-{code.lower()}")
        Membership.objects.update_or_create(user=user, defaults={"role": "coordinator", "school": school})
        users[code] = user
        schools[code] = school
    _token, token_text = AuthToken.objects.create(user=users["BENCH-LARGE"])
    # As autovacuum would have by the time anyone looks: planner statistics of the new rows.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return users, schools, token_text


def _reset_school(school):
    from enrollment.models import AuditEvent, Enrollment, Roster, Student

    AuditEvent.objects.filter(school=school).delete()
    Enrollment.objects.filter(school=school).delete()
    Roster.objects.filter(school=school).delete()
    Student.objects.filter(school=school).delete()


def _refresh_enrollments(school, year):
    try:
        from enrollment.services.common import Actor, roster_get_or_create
        from enrollment.services.enrollments import enrollments_refresh_bulk
    except ImportError:
        print("  (no bulk enrollment refresh available: students without enrollments)")
        return
    roster = roster_get_or_create(school=school, insurance_year=year)
    enrollments_refresh_bulk(actor=Actor.job("bench"), roster=roster)


# --- queries per request ----------------------------------------------------


def count_queries(users, token: str, urls: dict) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from knox.models import AuthToken

    result = {}
    for code, user in users.items():
        session = Client(HTTP_HOST=HOST)
        session.force_login(user, backend="enrollment.auth.MembershipBackend")
        key = AuthToken.objects.create(user=user)[1]
        api = Client(HTTP_HOST=HOST, HTTP_AUTHORIZATION=f"Token {key}")
        for target, url in urls.items():
            client = api if target == "api" else session
            client.get(url)  # warm caches of the first request (translations, templates, content types)
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url)
            result[(target, code)] = (len(queries), response.status_code)
    return result


# --- server and load --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_server(env: dict, port: int, workers: int, threads: int) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "--bind", f"{HOST}:{port}",
        "--workers", str(workers), "--threads", str(threads), "--access-logfile", "/dev/null",
        "config.wsgi:application",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    # Generous: on a busy machine each worker's first request loads a lot lazily.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {server.returncode}")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=20)
            connection.request("GET", "/health/", headers={"Host": HOST})
            if connection.getresponse().status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.3)
    server.terminate()
    raise RuntimeError("gunicorn did not become healthy within 120 s")


def _client(port: int, targets: dict, headers: dict, offset: int, stop_at: float) -> tuple[dict, dict]:
    """One client: requests back to back until ``stop_at``; returns its latencies and errors per target."""
    names = list(targets)
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    samples = {name: [] for name in names}
    errors = dict.fromkeys(names, 0)
    i = offset
    while time.time() < stop_at:
        name = names[i % len(names)]
        i += 1
        started = time.perf_counter()
        try:
            connection.request("GET", targets[name], headers=headers[name])
            response = connection.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
            connection.close()
            connection = http.client.HTTPConnection(HOST, port, timeout=30)
        elapsed = time.perf_counter() - started
        if ok:
            samples[name].append(elapsed)
        else:
            errors[name] += 1
    connection.close()
    return samples, errors


def run_load(port: int, targets: dict, headers: dict, clients: int, seconds: float) -> dict:
    """``clients`` client processes (not threads: one interpreter lock would queue the clients themselves)."""
    import multiprocessing

    names = list(targets)
    samples = {name: [] for name in names}
    errors = dict.fromkeys(names, 0)
    started = time.time()
    stop_at = started + seconds
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        for client_samples, client_errors in pool.starmap(
            _client, [(port, targets, headers, n, stop_at) for n in range(clients)]
        ):
            for name in names:
                samples[name].extend(client_samples[name])
                errors[name] += client_errors[name]
    duration = time.time() - started
    return {
        name: {
            "count": len(samples[name]),
            "errors": errors[name],
            "rps": len(samples[name]) / duration,
            "p50": statistics.median(samples[name]) * 1000 if samples[name] else float("nan"),
            "p95": _percentile(samples[name], 95) * 1000 if samples[name] else float("nan"),
        }
        for name in names
    }


def _percentile(values, pct):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def main():
    args = parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to the PostgreSQL database of the benchmark (it is migrated and filled).")
    static_root = tempfile.mkdtemp(prefix="bench-static-")
    env = server_env(static_root)
    setup_django(env)

    print(f"Preparing data: a school of {args.students} students and one of 100 ...")
    started = time.monotonic()
    users, _schools, token = build_data(args.students)
    print(f"  ready in {time.monotonic() - started:.1f} s")

    urls = {"portal": args.portal_url, "api": args.api_url, "baseline": args.baseline_url}
    print("\nQueries per request (test client, one request after a warm-up):")
    counts = count_queries(users, token, urls)
    for target in urls:
        small, large = counts[(target, "BENCH-SMALL")], counts[(target, "BENCH-LARGE")]
        constant = "constant" if small[0] == large[0] else "GROWS"
        print(f"  {target:9} {urls[target]:28} 100 students: {small[0]:3d} (HTTP {small[1]})   "
              f"{args.students} students: {large[0]:3d} (HTTP {large[1]})   {constant}")

    from django.test import Client

    session = Client()
    session.force_login(users["BENCH-LARGE"], backend="enrollment.auth.MembershipBackend")
    cookie = f"sessionid={session.cookies['sessionid'].value}"
    headers = {
        "portal": {"Host": HOST, "Cookie": cookie},
        "api": {"Host": HOST, "Authorization": f"Token {token}", "Accept": "application/json"},
        "baseline": {"Host": HOST},
    }
    from django.db import connections

    connections.close_all()

    port = args.port or free_port()
    print(f"\nStarting gunicorn on {HOST}:{port} ({args.workers} workers x {args.threads} threads, DEBUG=0) ...")
    server = start_server(env, port, args.workers, args.threads)
    try:
        # Warm every worker's caches before measuring.
        run_load(port, urls, headers, clients=args.workers * 2, seconds=5)
        # One target at a time, each under the full load: a cheap request queued behind an
        # expensive one would otherwise report the other target's latency.
        results = {}
        for name in urls:
            print(f"Load: {args.clients} clients for {args.seconds:.0f} s on {urls[name]} ...", flush=True)
            results.update(run_load(port, {name: urls[name]}, {name: headers[name]}, clients=args.clients, seconds=args.seconds))
    finally:
        server.terminate()
        server.wait(timeout=30)

    base = results["baseline"]
    print(f"\n  {'target':9} {'url':28} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'errors':>6}  p95 vs baseline")
    for target, r in results.items():
        ratio = r["p95"] / base["p95"] if base["p95"] else float("nan")
        print(f"  {target:9} {urls[target]:28} {r['count']:8d} {r['rps']:7.1f} {r['p50']:7.1f} {r['p95']:7.1f} "
              f"{r['errors']:6d}  x{ratio:.1f}")
    total_rps = sum(r["rps"] for r in results.values())
    print(f"  total {total_rps:.1f} req/s")

    worst_p95 = max(r["p95"] for name, r in results.items() if name != "baseline")
    total_errors = sum(r["errors"] for r in results.values())
    max_queries = max(c[0] for c in counts.values())
    constant = all(counts[(t, "BENCH-SMALL")][0] == counts[(t, "BENCH-LARGE")][0] for t in urls)
    print("\nTargets:")
    print(f"  p95 <= 100 ms:              {'met' if worst_p95 <= 100 else 'NOT met'} ({worst_p95:.1f} ms)")
    print(f"  0 errors:                   {'met' if total_errors == 0 else 'NOT met'} ({total_errors})")
    print(f"  queries <= 10 and constant: {'met' if max_queries <= 10 and constant else 'NOT met'} "
          f"(max {max_queries}, {'constant' if constant else 'grows with students'})")


if __name__ == "__main__":
    main()
