"""Where untrusted files are loaded and student code runs: isolated worker processes, their ops, and the prober that talks to them.

The parent's side: :mod:`.prober` (what the rest of the grader calls), :mod:`.pool` and
:mod:`.process` (workers and their lifecycle), :mod:`.isolation` (what a worker process gets),
:mod:`.channel` (requests and bounded replies), :mod:`.untrusted` (checking what comes back),
:mod:`.limits`, :mod:`.errors` and :mod:`.stderr_log`. Inside a worker: :mod:`.worker` (the
entry point), :mod:`.ops` (what it runs) and :mod:`.keras2` (loading Keras 2 files).
"""
