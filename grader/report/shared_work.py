"""The report's "Shared work" section: the findings of ``grader similarity``, evidence side by side.

Reads the snapshot's findings only. A prose finding shows both answers with the shared
passages marked; a code finding shows the shared line ranges of both files; a model finding
shows what the weights have in common. Nothing here is a score: the section says so.
"""

from __future__ import annotations

from typing import Any

from grader.core.groups import linked_groups

MAX_SHOWN = 200


def segments(text: str, spans: list[list[int]]) -> list[dict[str, Any]]:
    """``text`` cut into {"text", "shared"} pieces at the shared character spans (merged, in order)."""
    pieces, at = [], 0
    for start, end in sorted((max(0, a), min(len(text), b)) for a, b in spans):
        if start < at:
            start = at
        if start >= end:
            continue
        if start > at:
            pieces.append({"text": text[at:start], "shared": False})
        pieces.append({"text": text[start:end], "shared": True})
        at = end
    if at < len(text):
        pieces.append({"text": text[at:], "shared": False})
    return pieces


def _side_by_side(finding: dict[str, Any]) -> dict[str, Any]:
    evidence = finding.get("evidence") or {}
    if finding["artifact"] == "prose":
        return {"a": segments(evidence.get("text_a", ""), evidence.get("passages_a", [])),
                "b": segments(evidence.get("text_b", ""), evidence.get("passages_b", []))}
    if finding["artifact"] == "code":
        return {"a": evidence.get("passages_a", []), "b": evidence.get("passages_b", [])}
    return {"correlations": evidence.get("correlations", []), "identical": evidence.get("identical", 0),
            "kernels": evidence.get("kernels", 0), "share": evidence.get("share", 0.0)}


def shared_work(findings: list[dict[str, Any]]) -> dict[str, Any]:
    """The section's context: pairs (strongest first, with their evidence), public sources, clusters."""
    pairs = [f for f in findings if f.get("student_b")]
    public = [f for f in findings if f.get("source")]
    return {
        "checked": bool(findings),
        "checked_at": max((f["checked_at"] for f in findings), default=""),
        "pairs": [{**f, "side": _side_by_side(f)} for f in pairs[:MAX_SHOWN]],
        "more": max(0, len(pairs) - MAX_SHOWN),
        "public": public,
        "clusters": linked_groups((f["student_a"], f["student_b"]) for f in pairs),
    }
