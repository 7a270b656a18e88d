"""The gradebook: students, submissions, grading runs, results with history, overrides.

SQLAlchemy over SQLite by default (``grader.db`` in the course folder); any
SQLAlchemy URL works (PostgreSQL is tested through the same code). Use it as a
context manager::

    with Gradebook(course.db_url) as gb:
        sub = gb.add_submission("alice", manifest, content_hash, store_path, "alice.zip")
        run = gb.start_run("batch", __version__, bank.versions, reference_versions)
        if not gb.already_graded(sub, content_hash, bank.versions, reference_versions):
            gb.record_results(sub, run, results, needs_review={"q3_prose": True})
        gb.finish_run(run)
        gb.set_override("alice", "q3_prose", 3.5, "good argument", "ta-bob")
        gb.class_summary(task_questions(bank))
        snapshot = gb.snapshot(bank)          # what reports and exports read

What it promises:

* Nothing is ever deleted by grading. Regrading a submission marks its earlier
  results ``superseded`` (okpy style) and inserts the new set in the same
  transaction, so a batch killed half way leaves the previous set current.
* A manual score is an override keyed by student, task and (optionally) check,
  not by result row, so it survives every regrade; the newest override of a key
  deactivates the older ones, which stay as history. A task-level override
  (``check=None``) decides the whole task's score and wins over check-level ones.
* Methods return the frozen records of :mod:`grader.core.records`
  (:class:`~grader.core.records.Student`, ``Submission``, ``Run``, ``Override``,
  each with ``to_dict()``), plain dicts for computed views, or a
  :class:`~grader.core.records.ClassSnapshot`; ORM rows and sessions never leave
  :mod:`grader.store`.
* Every call is its own short transaction. On SQLite: WAL journal, a 30 s busy
  timeout, foreign keys on, and write transactions opened with
  ``BEGIN IMMEDIATE`` so two batch processes queue for the write lock instead of
  failing with "database is locked"; a locked error is retried with backoff as a
  last resort (:mod:`grader.store.engine`, :mod:`grader.store.database`).
* The schema (:mod:`grader.store.schema`) is migrated on open with the Alembic
  revisions in :mod:`grader.store.migrations`.

"The latest submission" of a student is the one with the greatest
``received_at`` (then id); summaries, the snapshot and the review queue look at
it only.
"""

from __future__ import annotations

from grader.store.overrides import OverridesMixin
from grader.store.results import ResultsMixin
from grader.store.runs import RunsMixin
from grader.store.similarity import SimilarityMixin
from grader.store.students import StudentsMixin
from grader.store.views import ViewsMixin


class Gradebook(StudentsMixin, RunsMixin, ResultsMixin, OverridesMixin, ViewsMixin, SimilarityMixin):
    """The gradebook behind one database URL; open it with ``with Gradebook(url) as gb``.

    Opening upgrades the schema to the newest migration. Each concern lives in
    its own part: students and submissions, runs, results, overrides, views and similarity findings.
    """
