"""The prose scorer's calibrated constants, chosen by ``bench/calibrate_prose.py`` on the tuning sets.

The tuning sets are ``tests/data/prose_calibration.toml``,
``tests/prose/tuning/answers.toml`` and ``tests/prose/tuning/adversarial.toml``; the held-out set
(``tests/prose/heldout/``) is never used to choose them. Rerun the script
after changing a rubric and copy what it prints here.
"""

# Semantic signal: best cosine similarity earning none / all of a key point. These only shape the
# semantic fraction shown to reviewers; they were set once from a grid on the first tuning set
# (the best QWK of the semantic fraction alone, 0.36) and are not chosen by the script below.
SEMANTIC_FLOOR = 0.30
SEMANTIC_CEILING = 0.80
# Per key point: the semantic signal finds it absent below this similarity, present from that one.
ABSENT_BELOW = 0.30
PRESENT_FROM = 0.85
# Auto-accept only when the key points the two signals judge oppositely weigh at most this share
# (the "disagree by more than a quarter"; fixed, not tuned).
AGREEMENT_TOLERANCE = 0.25
# Partial credit strictly between these fractions is always decided by a person: on the tuning
# sets nearly every auto-accepted error (a wrong answer given some credit, a right one in
# unusual words given too little) lies there.
PARTIAL_ABOVE = 0.25
PARTIAL_BELOW = 0.75
# The share of the rubric's key-point weight that earns full credit: a fair instructor does not
# withhold full marks for one minor point.
FULL_CREDIT_AT = 0.80
