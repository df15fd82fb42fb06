"""The community benchmark's summary: each scenario's figures against its target."""

from common import ms, percentile

TARGET_SHARE_S = 2.0
TARGET_INDEX_P99_MS = 50.0


def _share_summary(share: dict) -> None:
    total = share["total"]
    if total:
        p50, worst = percentile(total, 50), max(total)
        verdict = "met" if worst < TARGET_SHARE_S else "not met"
        print(
            f"share to preview ready, {percentile(share['sizes'], 50) / 1e6:.2f} MB notebook, "
            f"one worker: p50 {ms(p50)}, max {ms(worst)} (n={len(total)}; target under 2 s: "
            f"{verdict}); POST p50 {ms(percentile(share['post'], 50))}, queue+render p50 "
            f"{ms(percentile(share['after'], 50))}; baseline in-process render p50 "
            f"{ms(percentile(share['local'], 50))}"
        )
    if share["failed"]:
        print(f"  {len(share['failed'])} shares failed (see above)")


def _throughput_summary(throughput: dict) -> None:
    print(
        f"render throughput, one worker (concurrency 1): {throughput['per_minute']:.0f} "
        f"notebooks a minute ({throughput['ready']}/{throughput['count']} ready, "
        f"{throughput['size'] / 1e3:.0f} KB each); baseline in-process "
        f"{throughput['local_per_minute']:.0f} a minute"
    )


def _index_summary(index: list[dict], topics: int) -> None:
    trivial = percentile(index[0]["remote"]["latencies"], 99) * 1000
    print(
        f"forum index at {topics:,} topics, concurrency 1 (client p99 / Django p99; "
        f"target p99 under {TARGET_INDEX_P99_MS:.0f} ms); trivial view p99 {trivial:.1f} ms:"
    )
    for row in index[1:-1]:
        client = percentile(row["remote"]["latencies"], 99) * 1000
        django = percentile(row["local"]["latencies"], 99) * 1000
        verdict = "met" if client < TARGET_INDEX_P99_MS else "NOT met"
        print(
            f"  {row['label']:<36} p99 {client:6.1f} / {django:6.1f} ms  "
            f"({client / trivial:.1f}x trivial)  {verdict}"
        )


def summarize(share: dict, throughput: dict, index: list[dict], topics: int) -> None:
    """Print the summary of the three scenarios' results (as their functions return them)."""
    print("\n== summary", flush=True)
    _share_summary(share)
    _throughput_summary(throughput)
    _index_summary(index, topics)
