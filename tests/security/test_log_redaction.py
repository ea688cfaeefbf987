"""Identity and bank account numbers never reach the log output in clear."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from pythonjsonlogger.json import JsonFormatter

from enrollment.logging import RedactPersonalDataFilter
from tests.factories import identity_number

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "6222021234567890123"


@pytest.fixture
def captured():
    """A logger wired like the production console handler: masking filter + JSON formatter."""
    import io

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactPersonalDataFilter())
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def _records(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_identity_number_in_log_arguments_is_masked(captured):
    logger, stream = captured
    number = identity_number()
    logger.warning("student %s not found in school %s", number, 12)
    (record,) = _records(stream)
    assert number not in json.dumps(record)
    assert record["message"] == f"student {'*' * 14}{number[-4:]} not found in school 12"


def test_identity_number_in_an_exception_and_its_traceback_is_masked(captured):
    logger, stream = captured
    number = identity_number()
    try:
        raise ValueError(f"duplicate key value violates unique constraint: (identity_number)=({number})")
    except ValueError:
        logger.exception("import failed")
    (record,) = _records(stream)
    assert number not in stream.getvalue()
    assert "Traceback" in record["exc_info"]
    assert f"{'*' * 14}{number[-4:]}" in record["exc_info"]


def test_bank_account_numbers_and_extra_fields_are_masked(captured):
    logger, stream = captured
    number = identity_number()
    logger.info("debit file row for account %s", ACCOUNT, extra={"holder_id": number, "account": int(ACCOUNT)})
    output = stream.getvalue()
    assert ACCOUNT not in output and number not in output
    (record,) = _records(stream)
    assert record["message"].endswith(ACCOUNT[-4:])
    assert record["holder_id"].endswith(number[-4:])


def test_short_numbers_stay_readable(captured):
    logger, stream = captured
    logger.info("school %s has %s students, hotline 12345678901", 42, 5000)
    assert _records(stream)[0]["message"] == "school 42 has 5000 students, hotline 12345678901"


def test_the_configured_log_output_is_json_and_masked():
    number = identity_number()
    code = (
        "import django, logging; django.setup(); "
        f"logging.getLogger('enrollment').error('bad row %s', '{number}'); "
        f"logging.getLogger('django.request').error('boom', exc_info=ValueError('{number}'))"
    )
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "0",
           "SECRET_KEY": "x" * 60, "LOG_JSON": "1", "DATABASE_URL": os.environ["DATABASE_URL"],
           "REDIS_URL": os.environ["REDIS_URL"]}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    messages = {line["name"]: line for line in lines}
    assert messages["enrollment"]["message"] == f"bad row {'*' * 14}{number[-4:]}"
    assert number not in result.stderr and number not in result.stdout


def test_error_emails_with_request_data_are_off():
    assert settings.ADMINS == []
    handlers = [
        h for name in ("django", "django.request", "") for h in logging.getLogger(name).handlers
        if not type(h).__module__.startswith("_pytest")  # the test runner's own capture
    ]
    assert handlers
    assert not any(type(h).__name__ == "AdminEmailHandler" for h in handlers)
    assert all(any(isinstance(f, RedactPersonalDataFilter) for f in h.filters) for h in handlers)


# --- Addresses: identity numbers in paths and query strings --------------------------------------------------------


@pytest.fixture
def request_log(captured):
    """Django's request logger (4xx/5xx lines, each with the request) into the production-like handler."""
    logger, stream = captured
    request_logger = logging.getLogger("django.request")
    handler = logger.handlers[-1]
    request_logger.addHandler(handler)
    yield stream
    request_logger.removeHandler(handler)


def test_the_coverage_api_path_is_masked_in_the_request_log(client, db, request_log):
    number = identity_number()
    response = client.get(f"/api/v1/coverage/{number}")
    assert response.status_code in (401, 403)
    (record,) = _records(request_log)
    assert number not in request_log.getvalue()
    assert record["message"].endswith(f"/api/v1/coverage/{'*' * 14}{number[-4:]}")
    assert record["request"] == f"<WSGIRequest: GET '/api/v1/coverage/{'*' * 14}{number[-4:]}'>"


def test_a_passport_number_in_the_coverage_api_path_is_masked_too(client, db, request_log):
    client.get("/api/v1/coverage/E12345678")
    assert "E12345678" not in request_log.getvalue()
    assert "/api/v1/coverage/*****5678" in request_log.getvalue()


def test_the_register_search_is_masked_in_the_query_string_of_the_request_log(rf, request_log):
    from django.http import HttpResponseNotFound
    from django.utils.log import log_response

    number = identity_number()
    request = rf.get("/students/", {"q": number, "page": "2"})
    log_response("Not Found: %s", request.path, response=HttpResponseNotFound(), request=request)
    (record,) = _records(request_log)
    assert number not in request_log.getvalue()
    assert record["request"] == "<WSGIRequest: GET '/students/?q=***&page=2'>"


def test_a_search_by_name_or_passport_in_the_development_server_log_is_masked(captured):
    logger, stream = captured
    logger.info('"%s" %s %s', "GET /students/?q=E12345678 HTTP/1.1", "200", "5120")
    logger.info('"%s" %s %s', "GET /students/?q=%E5%BC%A0%E4%B8%89&page=3 HTTP/1.1", "200", "5120")
    first, second = _records(stream)
    assert first["message"] == '"GET /students/?q=*** HTTP/1.1" 200 5120'
    assert second["message"] == '"GET /students/?q=***&page=3 HTTP/1.1" 200 5120'


def test_the_gunicorn_access_log_masks_the_identity_number_in_the_path(capsys):
    import datetime
    import importlib.util
    from types import SimpleNamespace

    from gunicorn.config import Config

    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "config" / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    cfg = Config()
    cfg.set("accesslog", "-")
    access_logger = conf.JsonAccessLogger(cfg)
    number = identity_number()
    try:
        access_logger.access(
            SimpleNamespace(status="200 OK", sent=512),
            None,
            {"REQUEST_METHOD": "GET", "PATH_INFO": f"/api/v1/coverage/{number}", "REMOTE_ADDR": "10.0.0.1"},
            datetime.timedelta(milliseconds=12),
        )
        access_logger.error_log.error("Invalid request line: GET /api/v1/coverage/%s HTTP/1.1", number)
    finally:
        for log in (access_logger.access_log, access_logger.error_log):
            for handler in list(log.handlers):
                log.removeHandler(handler)
    output = capsys.readouterr()
    assert number not in output.out + output.err
    assert f"/api/v1/coverage/{'*' * 14}{number[-4:]} HTTP/1.1" in output.err
    line = json.loads(output.out.strip().splitlines()[-1])
    assert line["path"] == f"/api/v1/coverage/{'*' * 14}{number[-4:]}"
