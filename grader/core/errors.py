"""The one base class of every expected problem (a bad file, a missing section, an unknown student).

Library code raises a subclass named for the condition, with one line that names the
object and says the fix; only the command line turns it into an exit status.
"""

from __future__ import annotations


class GraderError(Exception):
    """An expected problem; ``str(e)`` is one line a person can act on."""
