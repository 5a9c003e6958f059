"""What a server's log says at INFO: no libvips narration per photo, no procrastinate
bookkeeping repeated per App, no line for a scheduled job that found nothing to do; but
warnings, errors and jobs that did something still show."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest

from momento import logs
from momento.jobs.queue import make_app
from momento.photos import processing
from momento.services import Services
from tests.photos.images import plain_jpeg


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    lines = []
    for line in capsys.readouterr().err.splitlines():
        if line.startswith("{"):
            lines.append(orjson.loads(line))
    return lines


def text(lines: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{line['level']} {line['event']} {line.get('exception', '')}" for line in lines
    )


def test_processing_a_photo_logs_nothing_at_info(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("info", json=True)
    processing.process(plain_jpeg(1200, 900))
    assert [line for line in log_lines(capsys) if line["logger"] == "pyvips"] == []


def test_libvips_warnings_still_show(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("info", json=True)
    with pytest.raises(processing.ImageRejected):
        processing.process(plain_jpeg(1200, 900)[:600])
    vips = [line for line in log_lines(capsys) if line["logger"] == "pyvips"]
    assert vips, "a truncated JPEG makes libvips warn"
    assert {line["level"] for line in vips} == {"warning"}


def test_libvips_narration_is_there_at_debug(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("debug", json=True)
    processing.process(plain_jpeg(1200, 900))
    assert any("VIPS" in line["event"] for line in log_lines(capsys))


async def test_idle_scheduled_jobs_are_quiet_and_failures_loud(
    services: Services, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure("info", json=True)
    # Several Apps per process, as the server and the tests build them.
    make_app(database_url)
    app = make_app(database_url)

    @app.task(name="test_logs_fails", queue="test_logs")
    async def fails() -> None:
        raise RuntimeError("the job broke")

    @app.task(name="test_logs_works", queue="test_logs")
    async def works() -> int:
        return 7

    await app.open_async()
    try:
        # What the periodic deferrer queues on an idle server: each finds nothing to do.
        for task in ("jobs:retry_stalled", "reveal:safety_net", "billing:sweep"):
            await app.configure_task(task).defer_async(timestamp=0)
        await app.configure_task("cleanup:sweep_orphans").defer_async(timestamp=0)
        await fails.defer_async()
        await works.defer_async()
        await app.run_worker_async(
            wait=False,
            concurrency=1,
            install_signal_handlers=False,
            additional_context={"services": services},
            delete_jobs="successful",
        )
    finally:
        await app.close_async()
    lines = log_lines(capsys)
    everything = text(lines)
    assert "Registering task" not in everything
    assert "Adding tasks from blueprint" not in everything
    for task in ("retry_stalled", "safety_net", "billing:sweep", "sweep_orphans"):
        assert task not in everything, task
    # A failing job is an error with its traceback.
    failed = [line for line in lines if "test_logs_fails" in line["event"]]
    assert [line["level"] for line in failed if "ended with status" in line["event"]] == ["error"]
    assert "RuntimeError: the job broke" in text(failed)
    # Any other job keeps its lines, and so does the worker's start.
    assert any(
        "test_logs_works" in line["event"] and "Result: 7" in line["event"] for line in lines
    )
    assert any(line["event"].startswith("Starting worker") for line in lines)


def record(action: str, task: str, result: object) -> logging.LogRecord:
    out = logging.LogRecord(
        "procrastinate.worker", logging.INFO, __file__, 1, f"Job {task}", None, None
    )
    out.action = action
    out.job = {"task_name": task}
    out.result = result
    return out


def test_a_scheduled_job_that_did_something_keeps_its_line() -> None:
    quiet = logs.QuietRoutine(logging.INFO)
    assert quiet.filter(record("job_success", "jobs:retry_stalled", 3))
    assert not quiet.filter(record("job_success", "jobs:retry_stalled", 0))
    assert not quiet.filter(record("start_job", "cleanup:expire_free_events", None))
    assert quiet.filter(record("job_error_retry", "reveal:safety_net", None))
    assert quiet.filter(record("job_success", "reveal:send", None))
    at_debug = logs.QuietRoutine(logging.DEBUG)
    routine = record("job_success", "jobs:retry_stalled", 0)
    assert at_debug.filter(routine)
    assert routine.levelname == "DEBUG"
