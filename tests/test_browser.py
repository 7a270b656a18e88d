"""The report and a feedback page in headless Chromium: they render, their script runs, no console errors.

Uses the hand-built gradebook of ``test_reports`` (no TensorFlow). Set
``GRADER_SCREENSHOT_DIR`` to keep the screenshots (e.g. as CI artifacts).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from test_reports import build_course, check_rows

pytestmark = pytest.mark.browser

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM = next((path for path in map(shutil.which, BROWSERS) if path), None)
TIMEOUT = 120
WINDOW = "--window-size=1280,2000"
MIN_PLOT_WIDTH = 600


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        pytest.skip(f"headless Chromium not found (looked for {', '.join(BROWSERS)} on PATH); "
                    f"install it with 'apt-get install -y chromium'")
    return CHROMIUM


@pytest.fixture(scope="module")
def pages(tmp_path_factory, bank) -> dict[str, Path]:
    from grader.report.class_report import write_report
    from grader.store.gradebook import Gradebook

    course = build_course(tmp_path_factory.mktemp("browser-course"), bank, answers=True, forecast_plots=True)
    with Gradebook(course.db_url) as gradebook:
        gradebook.replace_similarity(SHARED_WORK)
        snapshot = gradebook.snapshot(bank)
    report = write_report(course, bank, course.root / "site" / "report.html", snapshot)
    return {"report": report, "feedback": report.parent / "feedback" / "dave.html"}


ANSWER_A = "An LSTM keeps a cell state that gradients flow through almost unchanged, so it remembers far back."
ANSWER_B = "Because an LSTM keeps a cell state that gradients flow through almost unchanged, it can remember long ago."
SHARED_WORK = [
    {"student_a": "alice", "student_b": "bob", "source": None, "artifact": "prose", "task": "Q5",
     "kind": "shared prose", "strength": 0.62,
     "evidence": {"text_a": ANSWER_A, "text_b": ANSWER_B, "passages_a": [[3, 74]], "passages_b": [[8, 79]]}},
    {"student_a": "carol", "student_b": "dave", "source": None, "artifact": "code", "task": "q6_lstm_cell",
     "kind": "shared code", "strength": 0.9,
     "evidence": {"passages_a": [{"first": 3, "last": 4, "text": "z = x @ W + h @ U + b\ni, f, g, o = np.split(z, 4, 1)"}],
                  "passages_b": [{"first": 7, "last": 8, "text": "s = x @ K + h @ R + c0\na, b, c, d = np.split(s, 4, 1)"}]}},
    {"student_a": "erin", "student_b": None, "source": "textbook", "artifact": "model", "task": "q4_forecaster",
     "kind": "same weights", "strength": 1.0, "evidence": {"kernels": 3, "identical": 3}},
]


def run_chromium(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-extensions", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
               "--enable-logging=stderr", "--v=0", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, f"chromium failed ({result.returncode}):\n{result.stderr[-2000:]}"
    return result


def console_problems(stderr: str) -> list[str]:
    """Every console message Chromium logged for the page (uncaught errors, CSP refusals, console.*).

    The pages log nothing on their own, so any console line is a problem.
    """
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def dump_dom(chromium: str, tmp_path: Path, page: Path, fragment: str = "", *args: str) -> tuple[str, str]:
    result = run_chromium(chromium, tmp_path, *args, "--dump-dom", page.as_uri() + fragment)
    return result.stdout, result.stderr


def drawn_layout(dom: str) -> dict:
    """What '#selftest' measured as drawn: section tops, plots as (width, top), passed rows shown / all."""
    body = re.search(r"<body[^>]*>", dom).group(0)
    attribute = lambda name: re.search(rf'{name}="([^"]*)"', body).group(1)  # noqa: E731
    sections = [(item.rsplit(":", 1)[0], int(item.rsplit(":", 1)[1])) for item in attribute("data-sections").split()]
    plots = {}
    for item in attribute("data-plots").split():
        name, width, top = item.rsplit(":", 2)
        plots[name] = (int(width), int(top))
    shown, total = map(int, attribute("data-passed-shown").split(" of "))
    return {"sections": sections, "tops": dict(sections), "plots": plots, "passed_shown": shown,
            "passed": total}


def test_report_runs_its_script_and_has_every_section(chromium, pages, tmp_path):
    dom, stderr = dump_dom(chromium, tmp_path, pages["report"], "#selftest")
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert 'data-js="ready"' in body, body          # the script ran (its CSP hash matched) without errors
    assert 'data-selftest="ok"' in body, body       # every sortable table sorts both ways
    for element_id in ("histogram", "plot-histogram", "question-stats", "question-distribution",
                       "misconceptions", "misconception-table", "prose-misconceptions", "leaderboard",
                       "leaderboard-table-q4_forecaster", "leaderboard-table-q7_conv_rnn", "forecast-plots",
                       "plot-horizon-mae", "window-plot-q4_forecaster", "student-table", "runs", "errors",
                       "shared-work", "shared-work-table", "public-source-table"):
        assert f'id="{element_id}"' in dom, element_id
    assert dom.count('class="feedback-link" href="feedback/') == 6
    assert re.search(r'<ol id="js-errors" class="js-errors" hidden="(hidden)?">\s*</ol>', dom)
    assert 'aria-sort="' in dom                     # headers were made sortable
    assert console_problems(stderr) == []


def test_feedback_page_renders_without_errors(chromium, pages, tmp_path):
    dom, stderr = dump_dom(chromium, tmp_path, pages["feedback"])
    assert 'data-js="ready"' in re.search(r"<body[^>]*>", dom).group(0)
    assert "feedback for dave" in dom
    for task in ("q4_forecaster", "q5_stable_rnn", "q7_conv_rnn"):
        assert f'id="forecast-plot-{task}"' in dom and f'id="plot-samples-{task}"' in dom
    assert "Reference answer" in dom
    assert console_problems(stderr) == []


def test_report_puts_the_student_table_first_and_draws_wide_plots(chromium, pages, tmp_path):
    dom, stderr = dump_dom(chromium, tmp_path, pages["report"], "#selftest", WINDOW)
    layout = drawn_layout(dom)
    names = [name for name, _ in layout["sections"]]
    assert names[:3] == ["overview", "students", "scores"], names   # headline figures, then the students
    students = layout["tops"]["students"]
    assert layout["tops"]["overview"] < students < layout["tops"]["scores"]
    assert {"plot-histogram", "plot-questions", "plot-horizon-mae", "plot-window-q4_forecaster"} <= set(layout["plots"])
    for name, (width, top) in layout["plots"].items():
        assert width >= MIN_PLOT_WIDTH, (name, width)
        assert top > layout["tops"]["scores"], name                  # every plot below the student table
    assert dom.index('id="student-table"') < dom.index('class="plot-figure"')
    assert console_problems(stderr) == []


def test_feedback_page_puts_what_to_fix_first_and_folds_passed_checks(chromium, pages, tmp_path):
    dom, stderr = dump_dom(chromium, tmp_path, pages["feedback"], "#selftest", WINDOW)
    layout = drawn_layout(dom)
    names = [name for name, _ in layout["sections"]]
    assert names[:2] == ["summary", "what-to-fix"], names            # right after the headline score
    fix = layout["tops"]["what-to-fix"]
    assert all(top > fix for name, top in layout["sections"] if name.startswith("Q"))
    assert 'class="fix ' in dom and dom.index('id="what-to-fix"') < dom.index("check-passed")
    rows = check_rows(dom)
    passed = [closed for status, _, closed in rows if status == "passed"]
    assert passed and all(passed)                                    # every passed check in a closed <details>
    assert all(not inside for status, inside, _ in rows if status != "passed")   # failures stay in view
    assert layout["passed"] > 0 and layout["passed_shown"] == 0      # and none of them is drawn
    assert len(layout["plots"]) == 3
    assert all(width >= MIN_PLOT_WIDTH for width, _ in layout["plots"].values()), layout["plots"]
    assert console_problems(stderr) == []


@pytest.mark.parametrize("page", ["report", "feedback"])
def test_screenshot_is_not_blank(chromium, pages, tmp_path, page):
    image = pytest.importorskip("PIL.Image")
    shot = tmp_path / f"{page}.png"
    run_chromium(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1280,2000",
                 "--hide-scrollbars", pages[page].as_uri())
    assert shot.is_file() and shot.stat().st_size > 20_000
    with image.open(shot) as picture:
        assert picture.size == (1280, 2000)
        colours = picture.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 50      # text, plots and badges, not an empty page
    keep = os.environ.get("GRADER_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(keep) / shot.name)


def test_shared_work_shows_each_pairs_evidence_side_by_side(chromium, pages, tmp_path):
    dom, stderr = dump_dom(chromium, tmp_path, pages["report"], "#selftest")
    body = re.search(r"<body[^>]*>", dom).group(0)
    sides = re.search(r'data-sides="([^"]*)"', body).group(1).split()
    assert len(sides) == 2, sides            # the prose and the code pair, open; the model finding has no columns
    for block in sides:
        (left_a, top_a, width_a), (left_b, top_b, width_b) = (map(int, side.split(",")) for side in block.split("/"))
        assert top_a == top_b and left_b >= left_a + width_a, block     # beside each other, not stacked
        assert min(width_a, width_b) >= 300, block
    section = dom[dom.index('id="shared-work"'):dom.index('id="runs"')]
    assert section.count("<mark>") >= 4 and "cell state that gradients flow through" in section
    assert "np.split" in section and "textbook" in section
    assert console_problems(stderr) == []
