"""The gradebook guard: a damaged database gets one line that says what to do; ``grader db check`` and
``grader db backup``; an unexpected exception prints one line and where its traceback went."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from grader.store.gradebook import Gradebook
from click.testing import CliRunner

from grader.cli import cli


@pytest.fixture
def course(tmp_path) -> Path:
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    return tmp_path / "c"


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_a_damaged_gradebook_is_one_line_with_what_to_do(course):
    (course / "grader.db").write_bytes(b"this is not a database" * 100)
    for args in (["review"], ["db", "check"]):
        result = _run(*args, "--course", str(course))
        assert result.exit_code == 1
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in result.output, result.output
        assert "file is not a database" in lines[0] and "grader db backup" in lines[0]


def test_db_check_reports_integrity_and_revision(course):
    Gradebook(f"sqlite:///{course / 'grader.db'}").close()                # creates the gradebook
    result = _run("db", "check", "--course", str(course))
    assert result.exit_code == 0, result.output
    assert "integrity ok" in result.output and "(current)" in result.output


def test_db_backup_copies_a_readable_gradebook_and_never_overwrites(course, tmp_path):
    Gradebook(f"sqlite:///{course / 'grader.db'}").close()
    out = tmp_path / "backup.db"
    result = _run("db", "backup", str(out), "--course", str(course))
    assert result.exit_code == 0, result.output
    with sqlite3.connect(out) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
    again = _run("db", "backup", str(out), "--course", str(course))
    assert again.exit_code == 1 and "already exists" in again.output


def test_an_unexpected_exception_is_one_line_naming_its_log(course, monkeypatch):
    import grader.core.course as course_module

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(course_module, "open_course", broken)
    result = _run("review", "--course", str(course))
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert "unexpected ZeroDivisionError: boom" in lines[0]
    log = Path(lines[0].split("traceback is in ")[1].split(";")[0])
    assert "ZeroDivisionError: boom" in log.read_text()


def test_a_database_url_never_shows_its_password(course):
    for url in ("postgres://postgres:S3cretPw@localhost:1/db", "postgresql+nodriver://postgres:S3cretPw@h/db",
                "postgresql+psycopg://postgres:S3cretPw@localhost:1/db"):
        result = _run("review", "--course", str(course), "--db", url)
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "S3cretPw" not in result.output and len(result.output.strip().splitlines()) == 1, result.output


def test_postgres_urls_are_read_as_the_psycopg_driver():
    from grader.store.engine import canonical_url

    assert canonical_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert canonical_url("postgresql://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert canonical_url("postgresql+psycopg2://u:p@h/db") == "postgresql+psycopg2://u:p@h/db"
    assert canonical_url("sqlite:///x.db") == "sqlite:///x.db"


def test_a_sqlite_gradebook_in_a_missing_folder_says_so(course, tmp_path):
    result = _run("override", "alice", "Q1", "--score", "1", "--course", str(course),
                  "--db", f"sqlite:///{tmp_path}/no/such/grader.db")
    assert result.exit_code == 1 and "does not exist" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("bad", ["../evil", "a/b", "a\\b", "..", " ", " padded", "tab\there"])
def test_a_student_id_cannot_name_a_path(course, tmp_path, bad):
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "answers.md").write_text("## Q1\nanything\n")
    result = _run("submit", str(folder), "--student", bad, "--course", str(course))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "student id" in result.output


def test_a_student_id_may_have_any_letters(course, tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "answers.md").write_text("## Q1\nanything\n")
    result = _run("submit", str(folder), "--student", "Ana María", "--course", str(course))
    assert result.exit_code == 0, result.output


def test_a_grader_side_forecast_failure_shows_no_server_path(bank):
    from grader.checks.evidence import Evidence
    from grader.checks.registry import CHECKS

    reason = "[series] path: /tmp/course/data/series.csv does not exist"
    outcome = CHECKS["forecast_accuracy"].run(Evidence(forecast={"grader_error": reason}), bank.task("q4_forecaster"))
    assert outcome.status == "error" and outcome.needs_review
    assert "/tmp" not in outcome.message and outcome.details["grader_error"] == reason


def test_a_missing_postgres_driver_names_the_extra_to_install():
    import importlib.util

    from grader.store.engine import make_engine
    from grader.store.errors import GradebookError

    if importlib.util.find_spec("psycopg2") is not None:
        pytest.skip("psycopg2 is installed here")
    with pytest.raises(GradebookError, match=r"rnn-grader\[postgres\]") as raised:
        make_engine("postgresql+psycopg2://user:S3cret@localhost/db")
    assert "S3cret" not in str(raised.value)


def test_a_missing_postgresql_driver_names_the_extra(course, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)          # as on a machine without the [postgres] extra
    result = _run("review", "--course", str(course), "--db", "postgres://u:pw@localhost/db")
    assert result.exit_code == 1 and "pip install 'rnn-grader[postgres]'" in result.output
    assert "pw@" not in result.output


@pytest.mark.parametrize("student", ["../evil", "a/b", "..", ".hidden", "Ana María", "名前", "x" * 128])
def test_every_student_id_gives_one_safe_file_name(student):
    from grader.core.identity import file_stem

    stem = file_stem(student)
    assert "/" not in stem and "\\" not in stem and not stem.startswith(".") and stem.isascii()
    assert len(stem) <= 80 and file_stem(student + "x") != stem


def test_db_check_finds_a_missing_table_and_a_too_new_revision(course):
    from grader.store.gradebook import Gradebook

    url = f"sqlite:///{course / 'grader.db'}"
    Gradebook(url).close()
    with sqlite3.connect(course / "grader.db") as conn:
        conn.execute("DROP TABLE overrides")
    result = _run("db", "check", "--course", str(course))
    assert result.exit_code == 1 and "table 'overrides' is missing" in result.output
    (course / "grader.db").unlink()
    Gradebook(url).close()
    with sqlite3.connect(course / "grader.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'zzzz9999'")
    result = _run("db", "check", "--course", str(course))
    assert result.exit_code == 1 and "newer than this grader knows" in result.output


def test_read_only_commands_never_create_a_gradebook(course, tmp_path):
    typo = tmp_path / "typo.db"
    result = _run("review", "--course", str(course), "--db", f"sqlite:///{typo}")
    assert result.exit_code == 1 and "no gradebook at" in result.output and not typo.exists()
