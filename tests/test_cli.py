"""The command line: fast startup without TensorFlow, help for every command, self-check output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", [["--help"], ["questions"], ["contract"], ["questions", "show", "Q3"]])
def test_fast_commands_do_not_import_tensorflow(args):
    code = ("from click.testing import CliRunner\nfrom grader.cli import cli\n"
            f"result = CliRunner().invoke(cli, {args!r})\nassert result.exit_code == 0, result.output")
    modules = _modules_after(code)
    assert "tensorflow" not in modules and "keras" not in modules


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        yield prefix + (name,), command
        if hasattr(command, "commands"):
            yield from _commands(command, prefix + (name,))


def test_every_command_has_help_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for path, command in _commands(cli):
        assert command.help and command.help.strip(), path
        assert f"grader {' '.join(path)}" in readme, f"'grader {' '.join(path)}' is not documented in README.md"


def test_questions_and_contract_list_the_bank():
    runner = CliRunner()
    listing = runner.invoke(cli, ["questions"])
    assert listing.exit_code == 0 and "Q8" in listing.output and "80 points" in listing.output
    shown = runner.invoke(cli, ["questions", "show", "Q3"])
    assert "return_sequences" in shown.output and "q3_deep_seq2seq" in shown.output
    missing = runner.invoke(cli, ["questions", "show", "Q42"])
    assert missing.exit_code != 0 and "no question 'Q42'" in missing.output
    table = runner.invoke(cli, ["contract"])
    assert "q6_lstm_cell.py" in table.output


def test_static_self_check_json(model_files, tmp_path):
    import shutil

    folder = tmp_path / "sub"
    folder.mkdir()
    for task in ("q1_seq2seq", "q3_deep_seq2vec"):
        shutil.copyfile(model_files[task] / f"{task}.keras", folder / f"{task}.keras")
    (folder / "answers.md").write_text("## Q1\nsome answer\n")
    result = CliRunner().invoke(cli, ["check", str(folder), "--static-only", "--json", "--course", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    by_task = {}
    for test in report["tests"]:
        assert set(test) >= {"name", "task", "check", "status", "score", "max_score", "output", "visibility"}
        by_task.setdefault(test["task"], []).append(test)
    assert all(t["status"] == "passed" for t in by_task["q1_seq2seq"])
    assert by_task["q4_forecaster"][0]["status"] == "error" and "missing" in by_task["q4_forecaster"][0]["output"]
    assert not any(t["check"] in ("forecast_accuracy", "rubric") for t in report["tests"])
    assert any("no section for Q2" in note for note in report["notes"])


def test_unknown_course_gives_one_line_error(tmp_path):
    result = CliRunner().invoke(cli, ["dataset", "baselines", "--course", str(tmp_path / "nope")])
    assert result.exit_code != 0
    assert "is not a course folder" in result.output and "Traceback" not in result.output
