"""Rendering pages: the Jinja2 environment, the page script and its hash, filters, file names, message text.

Templates come from the course folder's ``templates/`` first, then the
shipped ones, so a course overrides any template by name. Autoescaping is on:
student ids, answers, layer names and check messages are untrusted text.
Only the SVG plots are inserted unescaped; they are drawn by
:mod:`grader.report.plots` from numbers and grader-chosen labels.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from grader.core.course import Course
from grader.core.errors import GraderError
from grader.core.identity import file_stem

if TYPE_CHECKING:
    import jinja2

MESSAGE_CHARS = 180
SCRIPT_TEMPLATE = "partials/script.html"

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_NUMBER = re.compile(r"\d[\d,._]*")


class ReportError(GraderError, ValueError):
    """A report cannot be written as asked; the message is one line naming the object."""


def template_environment(course: Course) -> jinja2.Environment:
    """Jinja2 environment: the course's ``templates/`` first, then the shipped templates; autoescaped."""
    import jinja2

    from grader.core.resources import templates_dir

    loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(course.templates_dir)),
                                  jinja2.FileSystemLoader(str(templates_dir()))])
    env = jinja2.Environment(loader=loader, autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["num"] = _num
    env.filters["pct"] = _pct
    env.filters["points"] = _points
    env.globals["badge_class"] = badge_class
    return env


def render_page(env: jinja2.Environment, template: str, context: Mapping[str, Any]) -> str:
    """Render ``template`` with the page script and its CSP hash added to ``context``.

    The page's Content-Security-Policy lets only this exact script run, so
    markup that ever slipped past escaping still could not execute.
    """
    import jinja2

    try:
        script = env.get_template(SCRIPT_TEMPLATE).render()
        digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
        return env.get_template(template).render(**context, script=script, script_hash=f"sha256-{digest}")
    except jinja2.TemplateSyntaxError as exc:
        raise ReportError(f"template {exc.filename or exc.name or template}, line {exc.lineno}: {exc.message}; "
                          f"fix it or remove it from the course's templates/ folder") from None
    except jinja2.TemplateError as exc:
        raise ReportError(f"cannot render {template}: {exc} (a template in the course's templates/ folder "
                          f"may use a name the grader does not provide)") from None


def _num(value: Any, digits: int = 0) -> str:
    """A number with thousands separators; '–' for a missing one."""
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    return f"{value:,.{digits}f}"


def _pct(value: Any, digits: int = 0) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f} %"


def badge_class(score: float | None, max_score: float | None) -> str:
    """The CSS class of a score badge: full, part, zero or none (no score)."""
    if score is None or not max_score:
        return "badge-none"
    share = score / max_score
    return "badge-full" if share >= 0.999 else "badge-part" if share > 0 else "badge-zero"


def _points(value: Any) -> str:
    """Points as people write them: 2, 2.5, 1.25."""
    if value is None:
        return "–"
    return f"{round(float(value), 2):g}"


def feedback_filename(student_id: str) -> str:
    """The file name of a student's feedback page (:func:`grader.core.identity.file_stem` plus .html)."""
    return f"{file_stem(student_id)}.html"


def trim(text: str, limit: int = MESSAGE_CHARS) -> str:
    """``text`` on one line, cut to at most ``limit`` characters with an ellipsis."""
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def message_shape(message: str) -> str:
    """``message`` with quoted names and numbers blanked, so one mistake worded per student groups together."""
    return _NUMBER.sub("#", _QUOTED.sub("'…'", " ".join((message or "").split())))
