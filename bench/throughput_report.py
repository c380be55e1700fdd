"""The figures of one bench/throughput.py run, the issue 11 targets, and how they are printed."""

from __future__ import annotations

import statistics
from typing import Any

from throughput_check import STAGES
from throughput_measure import Snapshot, cpu_used, operations
from throughput_shop import Placed

TARGETS = (
    # (figure, label, comparison, bound)
    ("paid_orders_per_second", "paid orders/s end to end", ">=", 25.0),
    ("share_of_floor", "share of the floor", ">=", 0.5),
    ("database_operations_per_paid_order", "database operations per paid order", "<=", 20.0),
    ("post_orders_p99_ms", "POST /orders p99 (ms)", "<=", 150.0),
    ("place_to_paid_p99_s", "place -> PAID p99 (s)", "<=", 3.0),
    ("idle_database_core_share", "idle database share of a core", "<", 0.03),
)


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def spread(values: list[float], scale: float = 1.0, digits: int = 0) -> dict[str, float]:
    return {
        "p50": round(statistics.median(values) * scale, digits) if values else float("nan"),
        "p99": round(percentile(values, 0.99) * scale, digits),
        "max": round(max(values) * scale, digits) if values else float("nan"),
    }


def stage_figures(times: dict[str, dict[str, float]]) -> dict[str, Any]:
    """For each stage, in the order the orders pass them (by median time after placed): how many
    orders reached it, its rate over its own active span (first to last order through it), and the
    time after placed and after the stage before (p50/p99/max, ms)."""
    after_placed = {stage: [t[stage] - t["placed"] for t in times.values() if stage in t and "placed" in t] for stage in STAGES}
    ordered = sorted((stage for stage in STAGES if after_placed[stage]), key=lambda stage: statistics.median(after_placed[stage]))
    figures: dict[str, Any] = {}
    for index, stage in enumerate(ordered):
        moments = sorted(t[stage] for t in times.values() if stage in t)
        span = moments[-1] - moments[0] if len(moments) > 1 else 0.0
        earlier = ordered[index - 1] if index else None
        gaps = [t[stage] - t[earlier] for t in times.values() if earlier and stage in t and earlier in t]
        figures[stage] = {
            "orders": len(moments),
            "orders_per_second": round((len(moments) - 1) / span, 2) if span else None,
            "ms_after_placed": spread(after_placed[stage], 1000),
            "ms_after_stage_before": spread(gaps, 1000) if gaps else None,
        }
    return figures


def figures(
    placed: list[Placed],
    times: dict[str, dict[str, float]],
    window: tuple[Snapshot, Snapshot, dict[str, int]],
    idle: dict[str, Any],
    floor: dict[str, Any],
) -> dict[str, Any]:
    before, after, behind = window
    paid = [t for t in times.values() if "paid" in t]
    first = min(p.started for p in placed)
    elapsed = max(t["paid"] for t in paid) - first if paid else float("nan")
    rate = len(paid) / elapsed if paid else 0.0
    starts = {p.order_id: p.started for p in placed if p.order_id}
    counted = operations(before, after)
    cpu = cpu_used(before, after)
    per_order = max(len(paid), 1)
    arrivals = sorted(p.started for p in placed)
    return {
        "orders": len(placed),
        "arrivals_per_second": round((len(arrivals) - 1) / (arrivals[-1] - arrivals[0]), 2) if len(arrivals) > 1 else None,
        "paid": len(paid),
        "seconds": round(elapsed, 1),
        "paid_orders_per_second": round(rate, 2),
        "stages": stage_figures(times),
        "post_orders_ms": spread([p.post_seconds for p in placed if p.order_id], 1000),
        "place_to_paid_s": spread([t["paid"] - starts[oid] for oid, t in times.items() if "paid" in t], 1, 2),
        "window_seconds": round(after.at - before.at, 1),
        "events_unread_when_the_window_closed": behind,
        "database_operations_per_paid_order": round(counted["total"] / per_order, 1),
        "database_operations": {
            **counted,
            "buckets_per_paid_order": {name: round(count / per_order, 1) for name, count in counted["buckets"].items()},
            "by_database_per_paid_order": {name: round(count / per_order, 1) for name, count in counted["by_database"].items()},
        },
        "cpu_seconds_per_paid_order": {name: round(used / per_order, 4) for name, used in sorted(cpu.items(), key=lambda i: -i[1])},
        "cpu_core_share_during_run": {name: round(used / (after.at - before.at), 2) for name, used in cpu.items()},
        "harness_cpu_seconds_per_paid_order": round((after.harness_cpu - before.harness_cpu) / per_order, 4),
        "harness_core_share_during_run": round((after.harness_cpu - before.harness_cpu) / (after.at - before.at), 2),
        "idle": idle,
        "floor": floor,
        "share_of_floor": round(rate / floor["orders_per_second"], 4) if floor["orders_per_second"] else None,
    }


# Capacity targets: an open loop's rate is the one it offers, so only the closed loop judges them.
CAPACITY = frozenset({"paid_orders_per_second", "share_of_floor"})


def with_targets(result: dict[str, Any], open_loop: bool = False) -> dict[str, Any]:
    """The figures the targets name, flat, and whether each target is met (None: not judged)."""
    result["post_orders_p99_ms"] = result["post_orders_ms"]["p99"]
    result["place_to_paid_p99_s"] = result["place_to_paid_s"]["p99"]
    result["idle_database_core_share"] = result["idle"]["core_share"].get("mongo")
    met: dict[str, bool | None] = {}
    for key, _, comparison, bound in TARGETS:
        if open_loop and key in CAPACITY:
            met[key] = None
            continue
        value = result.get(key)
        met[key] = value is not None and (value >= bound if comparison == ">=" else value <= bound if comparison == "<=" else value < bound)
    result["targets_met"] = met
    return result


def report(result: dict[str, Any], setting: str) -> list[str]:
    lines = [
        f"throughput: {setting}",
        f"  end to end: {result['paid_orders_per_second']} paid orders/s ({result['paid']} PAID in {result['seconds']} s); "
        f"orders placed {result.get('arrivals_per_second')}/s",
    ]
    lines.append("  stage       orders  orders/s   ms after placed p50 / p99      ms after the stage before p50 / p99")
    for stage, figure in result["stages"].items():
        whole, gap = figure["ms_after_placed"], figure["ms_after_stage_before"]
        shown = f"{gap['p50']:>8.0f} / {gap['p99']:>7.0f}" if gap else "       -"
        rate = f"{figure['orders_per_second']:>8}" if figure["orders_per_second"] is not None else "       -"
        lines.append(f"  {stage:<10} {figure['orders']:>7} {rate}   {whole['p50']:>8.0f} / {whole['p99']:>7.0f}      {shown}")
    post, whole = result["post_orders_ms"], result["place_to_paid_s"]
    lines.append(f"  POST /orders   p50 {post['p50']:.0f} ms   p99 {post['p99']:.0f} ms   max {post['max']:.0f} ms")
    lines.append(f"  place -> PAID  p50 {whole['p50']:.2f} s    p99 {whole['p99']:.2f} s    max {whole['max']:.2f} s")
    database = result["database_operations"]
    lines.append(
        f"  database operations per paid order: {result['database_operations_per_paid_order']} "
        f"({', '.join(f'{k} {v}' for k, v in database['buckets_per_paid_order'].items())}; the harness's own {database['harness']} subtracted; "
        f"window {result['window_seconds']} s from the first order until every consumer group caught up)"
    )
    lines.append(f"    by database (collection operations): {database['by_database_per_paid_order']}")
    if result["events_unread_when_the_window_closed"]:
        lines.append(f"    NOT settled when the window closed; events still to read: {result['events_unread_when_the_window_closed']}")
    cpu = result["cpu_seconds_per_paid_order"]
    lines.append(f"  CPU seconds per paid order: {', '.join(f'{k} {v:.3f}' for k, v in cpu.items())}; all {sum(cpu.values()):.3f}")
    lines.append(f"  share of a core during the run: {result['cpu_core_share_during_run']}")
    if "harness_core_share_during_run" in result:  # JSON written before the harness measured itself has none
        lines.append(
            f"  the harness itself (its shoppers, reading the events): {result['harness_cpu_seconds_per_paid_order']:.3f} CPU s "
            f"per paid order, {result['harness_core_share_during_run']} of a core"
        )
    idle = result["idle"]
    lines.append(
        f"  idle ({idle['seconds']} s before the run): database {idle['database_operations_per_second']} ops/s; shares of a core {idle['core_share']}"
    )
    floor = result["floor"]
    lines.append(
        f"  floor ({floor['shape']}, {floor['concurrency']} at a time): {floor['orders_per_second']} orders/s, "
        f"{floor['database_operations_per_order']} ops/order; this run is {100 * (result['share_of_floor'] or 0):.1f} % of it"
    )
    load = result["load_average_1min"]
    lines.append(f"  machine: load average {load['start']} at the start, {load['end']} at the end, {load['cores']} cores")
    for key, label, comparison, bound in TARGETS:
        met = result["targets_met"][key]
        verdict = "not judged (an open loop offers its rate: capacity is the closed loop's)" if met is None else "met" if met else "NOT met"
        lines.append(f"  target {label} {comparison} {bound}: {result.get(key)} -> {verdict}")
    return lines
