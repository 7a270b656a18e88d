"""The baselines a forecast is judged against, assembled in one place.

Two views of the same numbers: :func:`baseline_rows`, the table of the course (naive,
seasonal naive, then every built reference forecaster) that ``grader dataset
baselines`` prints, and :func:`task_baselines`, the three comparisons one forecasting
task shows a student and the report (from an evaluation on the same windows when there
is one, else from the reference manifest).
"""

from __future__ import annotations

from typing import Any, Mapping

from grader.forecast.metrics import Evaluation, baseline_table
from grader.forecast.series import Series, SeriesTable

BASELINES = ("naive", "seasonal_naive", "reference")


def baseline_rows(series: Series, series_cfg: SeriesTable, window: int,
                  manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows ``{name, mae, rmse, mase, mae_per_horizon}``: the naive baselines, then each reference by task id."""
    rows = [row.to_dict() for row in baseline_table(series, series_cfg, window)]
    for task, entry in sorted((manifest.get("tasks") or {}).items()):
        if "mae" in entry:
            rows.append({"name": f"reference {task}", "mae": entry["mae"], "rmse": entry.get("rmse"),
                         "mase": entry.get("mase"), "mae_per_horizon": entry.get("mae_per_horizon")})
    return rows


def task_baselines(manifest: Mapping[str, Any], task_id: str,
                   evaluation: Evaluation | None = None) -> dict[str, dict[str, Any]]:
    """``{"naive": {...}, "seasonal_naive": {...}, "reference": {...}}`` for one task (empty dicts: unknown).

    The naive baselines come from ``evaluation`` when given (the student's own windows),
    else from the manifest, which holds them for the reference's windows.
    """
    entry = (manifest.get("tasks") or {}).get(task_id, {})
    found: dict[str, dict[str, Any]] = {name: {} for name in BASELINES}
    if evaluation is not None:
        found["naive"] = {"mae": evaluation.naive.mae, "mase": evaluation.naive.mase}
        found["seasonal_naive"] = {"mae": evaluation.seasonal_naive.mae, "mase": evaluation.seasonal_naive.mase}
    else:
        if entry.get("naive_mae") is not None:
            found["naive"] = {"mae": entry["naive_mae"]}
        if entry.get("seasonal_naive_mae") is not None:
            found["seasonal_naive"] = {"mae": entry["seasonal_naive_mae"]}
    if entry.get("mae") is not None:
        found["reference"] = {"mae": entry["mae"], "mase": entry.get("mase"), "rmse": entry.get("rmse")}
    return found
