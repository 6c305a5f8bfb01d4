"""The benchmark's printed report and its README table, from a result JSON."""

from __future__ import annotations

from typing import Any


def _fmt_s(s: float) -> str:
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def baselines_of(comparisons: list[tuple[str, str, str]]) -> dict[str, list[str]]:
    """Each measurement's baselines, shown beside it rather than as rows of their own."""
    out: dict[str, list[str]] = {}
    for slow, fast, _ in comparisons:
        if slow.startswith(("seed", "read", "aff", "json")):
            out.setdefault(fast, []).append(slow)
    return out


def _frame_memory(e: dict[str, Any]) -> str:
    """The call's own memory against its frame's (each object once), if it was measured."""
    if "frame_unique_mb" not in e:
        return ""
    return (
        f"growth {e['rss_growth_mb'] / e['frame_unique_mb']:.1f}x the frame "
        f"({e['frame_unique_mb']:.0f} MB; {e['frame_mb']:.0f} MB by pandas' deep count)"
    )


def table(result: dict[str, Any], comparisons: list[tuple[str, str, str]]) -> str:
    """The printed report: per size, each measurement, its baseline and the ratio."""
    lines = []
    baseline_of = baselines_of(comparisons)
    shown = {b for bs in baseline_of.values() for b in bs}
    for size in result["sizes"]:
        m = size["measurements"]
        lines.append(
            f"\n{size['events']:,} events (head {size['head_event_id']:,}, "
            f"{size['db_mb']} MB, {size['rollback_entries']:,} rollback entries)"
        )
        lines.append(
            f"{'measurement':<20} {'median':>10} {'baseline':<20} {'median':>10} "
            f"{'speed-up':>9} {'peak RSS':>9} {'growth':>8}"
        )
        for name, e in m.items():
            if name in shown:
                continue
            bases = [b for b in baseline_of.get(name, []) if b in m]
            row = f"{name:<20} {_fmt_s(e['median_s']):>10} "
            if bases:
                base = bases[0]
                row += (
                    f"{base:<20} {_fmt_s(m[base]['median_s']):>10} "
                    f"{m[base]['median_s'] / e['median_s']:>8.1f}x "
                )
            else:
                row += f"{'':<20} {'':>10} {'':>9} "
            row += f"{e['peak_rss_mb']:>7.0f}MB {e['rss_growth_mb']:>6.0f}MB"
            if "events_per_s" in e:
                row += f"  ({e['events_per_s']:,.0f} events/s)"
            if memory := _frame_memory(e):
                row += f"  ({memory})"
            lines.append(row)
            for base in bases[1:]:  # a further baseline: its time, speed-up and memory
                b = m[base]
                lines.append(
                    f"{'':<20} {'':>10} {base:<20} {_fmt_s(b['median_s']):>10} "
                    f"{b['median_s'] / e['median_s']:>8.1f}x "
                    f"{b['peak_rss_mb']:>7.0f}MB {b['rss_growth_mb']:>6.0f}MB"
                )
        if size.get("demo_build_events_per_s"):
            lines.append(
                f"{'demo build':<20} {_fmt_s(size['demo_build_s']):>10}  "
                f"({size['demo_build_events_per_s']:,.0f} events/s through the public API)"
            )
        lines.append("targets:")
        for label, t in size["targets"].items():
            lines.append(
                f"  [{'met ' if t['met'] else 'MISS'}] {label}: {t['value']:.3g} ({t['limit']})"
            )
    for g in result.get("growth", []):
        lines.append(f"\ngrowth from {g['from_events']:,} to {g['to_events']:,} events:")
        lines.append("  " + ", ".join(f"{k} x{v:.1f}" for k, v in g["factors"].items()))
        for label, t in g.get("target", {}).items():
            lines.append(
                f"  [{'met ' if t['met'] else 'MISS'}] {label}: rewind_100 x{t['rewind_100']:.2f}"
                f", snapshot x{t['snapshot']:.2f}"
            )
    return "\n".join(lines)


def _tree_ratios(name: str, e: dict[str, Any], m: dict[str, dict[str, Any]]) -> list[str]:
    """A per-chat rewind against a rebuild, an undo against its rewind."""
    if name == "chat_rewind_1pct" and "project" in m:
        return [f"{m['project']['median_s'] / e['median_s']:.1f}x faster than project"]
    if name == "undo_rewind_1pct" and "chat_rewind_1pct" in m:
        return [f"{e['median_s'] / m['chat_rewind_1pct']['median_s']:.2f}x its rewind"]
    return []


def markdown(result: dict[str, Any], comparisons: list[tuple[str, str, str]]) -> str:
    """The README table: medians per size, the baseline and ratio and peak memory at the largest."""
    sizes = result["sizes"]
    big = sizes[-1]
    baseline_of = baselines_of(comparisons)
    shown = {b for bs in baseline_of.values() for b in bs}
    head = " | ".join(f"{s['events']:,} events" for s in sizes)
    lines = [
        f"| measurement | {head} | baseline at {big['events']:,} | ratio | peak RSS |",
        "|---|" + "---:|" * len(sizes) + "---|---:|---:|",
    ]
    for name, e in big["measurements"].items():
        if name in shown:
            continue
        cells = [
            _fmt_s(s["measurements"][name]["median_s"]) if name in s["measurements"] else ""
            for s in sizes
        ]
        bases = [b for b in baseline_of.get(name, []) if b in big["measurements"]]
        parts, shown_bases = [], []
        for base in bases:
            b = big["measurements"][base]
            r = b["median_s"] / e["median_s"]
            than = f" than {base}" if len(bases) > 1 else ""
            parts.append(f"{r:.1f}x faster{than}" if r >= 1 else f"{1 / r:.1f}x slower{than}")
            shown_bases.append(f"{base} {_fmt_s(b['median_s'])} ({b['peak_rss_mb']:.0f} MB)")
        baseline = "; ".join(shown_bases)
        if name.startswith(("rewind", "chat_rewind")) and "snapshot" in big["measurements"]:
            snap = big["measurements"]["snapshot"]["median_s"]
            parts.append(f"{e['median_s'] / snap:.2f}x snapshot")
        parts += _tree_ratios(name, e, big["measurements"])
        if "events_per_s" in e:
            parts.append(f"{e['events_per_s']:,.0f} events/s")
        if memory := _frame_memory(e):
            parts.append(memory)
        ratio = "; ".join(parts)
        lines.append(
            f"| {name} | {' | '.join(cells)} | {baseline} | {ratio} | {e['peak_rss_mb']:.0f} MB |"
        )
    return "\n".join(lines)
