"""The service's counters and duration histogram in the Prometheus text exposition format (0.0.4).

Written here rather than with prometheus_client: a runtime dependency for some twenty lines of
text; the tests check the output with prometheus_client's own parser.
"""

from collections.abc import Mapping, Sequence

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "fibtrigger_lambda"
# Upper bounds in seconds: a warm call takes well under a millisecond, a cold or large one longer.
DURATION_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def wanted(accept: str | None, query: Mapping[str, Sequence[str]]) -> bool:
    """Prometheus asks with an Accept header naming text/plain or OpenMetrics; people with ?format=."""
    if "prometheus" in query.get("format", ()):
        return True
    accept = (accept or "").lower()
    return "text/plain" in accept or "application/openmetrics-text" in accept


def render(counters: Mapping[str, int], bucket_counts: Sequence[int], duration_sum: float) -> str:
    """``bucket_counts[i]`` counts durations <= DURATION_BUCKETS[i] (cumulative); the last entry counts all."""
    lines = []
    for name, value in counters.items():
        metric = f"{PREFIX}_{name}_total"
        lines += [f"# HELP {metric} {name.replace('_', ' ')}", f"# TYPE {metric} counter", f"{metric} {value}"]
    metric = f"{PREFIX}_duration_seconds"
    lines += [f"# HELP {metric} time the handler ran", f"# TYPE {metric} histogram"]
    for bound, count in zip(DURATION_BUCKETS, bucket_counts, strict=False):
        lines.append(f'{metric}_bucket{{le="{bound}"}} {count}')
    lines.append(f'{metric}_bucket{{le="+Inf"}} {bucket_counts[-1]}')
    lines.append(f"{metric}_sum {duration_sum:.6f}")
    lines.append(f"{metric}_count {bucket_counts[-1]}")
    return "\n".join(lines) + "\n"
