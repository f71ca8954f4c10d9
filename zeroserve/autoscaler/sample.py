"""How many instances to scrape, and how to scale their stats up to the revision.

Knative ``pkg/autoscaler/metrics/sample_size.go`` and ``stats_scraper.go``: with more than
three ready instances the scraper reads only a sample, sized for a 95 % confidence of a 5 %
margin of error on the mean, and extrapolates the sum to the whole population:
``revision stat = (sum of sampled stats) / n * N``. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from zeroserve.autoscaler.metrics import Stat

CRITICAL_VALUE_SQUARED = 1.96 * 1.96
"""Square of the normal distribution's critical value at 95 % confidence."""
MARGIN_OF_ERROR_SQUARED = 5.0 * 5.0
POPULATION_VARIANCE = 100.0
SAMPLE_SIZE = CRITICAL_VALUE_SQUARED * POPULATION_VARIANCE / MARGIN_OF_ERROR_SQUARED
"""Sample size for an unbounded population (15.3664)."""
SCRAPER_POD_NAME = "service-scraper"
"""Pod name of an extrapolated stat (Knative ``scraperPodName``)."""


def population_mean_sample_size(population: float) -> float:
    """``N`` up to 3 (never negative), else ``ceil(N * X / (N + X - 1))`` with X = 15.3664."""
    if population <= 3:
        return max(population, 0.0)
    return float(math.ceil(population * SAMPLE_SIZE / (population + SAMPLE_SIZE - 1)))


def average_stats(stats: Iterable[Stat], sample: float, total: float) -> Stat:
    """Sum the sampled stats and scale each load field by ``/ sample * total`` (``computeAverages``).

    Uptime and timestamp are not aggregated (they stay 0), as in Knative.
    """
    conc = proxied_conc = count = proxied_count = 0.0
    for s in stats:
        conc += s.average_concurrent_requests
        proxied_conc += s.average_proxied_concurrent_requests
        count += s.request_count
        proxied_count += s.proxied_request_count
    return Stat(
        pod_name=SCRAPER_POD_NAME,
        average_concurrent_requests=conc / sample * total,
        average_proxied_concurrent_requests=proxied_conc / sample * total,
        request_count=count / sample * total,
        proxied_request_count=proxied_count / sample * total,
    )


def extrapolate(stats: Iterable[Stat], population: int) -> Stat:
    """Revision-wide stat from the stats of a full sample of ``population`` ready instances."""
    if population <= 0:
        raise ValueError(f"population must be positive, was: {population}")
    return average_stats(stats, population_mean_sample_size(population), float(population))
