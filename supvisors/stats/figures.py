"""Figures derived from a statistics series for tables and plots (spec §4.4).

Functions return None where the spec says the figure is undefined (single value), so that cells show '--'.
"""

import math
from typing import Optional, Sequence, Tuple

try:
    import numpy
    HAS_NUMPY = True
except ImportError:
    numpy = None
    HAS_NUMPY = False

STABLE_THRESHOLD = 0.005


def get_mean(series: Sequence[float]) -> Optional[float]:
    """ Arithmetic mean, None for an empty series. """
    return sum(series) / len(series) if series else None


def get_rate(previous: float, last: float) -> float:
    """ Percentage change between two successive values; +inf when the previous value is 0 (upstream behaviour). """
    if previous == 0:
        return math.inf
    return 100.0 * last / previous - 100.0


def get_series_rate(series: Sequence[float]) -> Optional[float]:
    """ Rate between the two last values of the series, None if fewer than 2 values. """
    return get_rate(series[-2], series[-1]) if len(series) > 1 else None


def get_linear_regression(series: Sequence[float]) -> Optional[Tuple[float, float]]:
    """ (a, b) of the least squares fit x ≈ a·i + b over i = 0…n-1, None if fewer than 2 values. """
    n = len(series)
    if n < 2:
        return None
    if HAS_NUMPY:  # pragma: no cover - numpy is optional
        a, b = numpy.polyfit(range(n), series, 1)
        return float(a), float(b)
    mean_i = (n - 1) / 2.0
    mean_x = sum(series) / n
    sxx = sum((i - mean_i) ** 2 for i in range(n))
    sxy = sum((i - mean_i) * (x - mean_x) for i, x in enumerate(series))
    a = sxy / sxx
    return a, mean_x - a * mean_i


def get_stddev(series: Sequence[float], mean: Optional[float] = None) -> Optional[float]:
    """ Population standard deviation, None if fewer than 2 values. """
    n = len(series)
    if n < 2:
        return None
    if mean is None:
        mean = sum(series) / n
    return math.sqrt(sum((x - mean) ** 2 for x in series) / n)


def get_trend_class(rate: Optional[float]) -> str:
    """ CSS class of the trend of the last value: 'increase', 'decrease' or 'stable' (|rate| < 0.005). """
    if rate is None or abs(rate) < STABLE_THRESHOLD:
        return 'stable'
    return 'increase' if rate > 0 else 'decrease'


def get_statistics(series: Sequence[float]) -> Tuple[Optional[float], Optional[float], Optional[float],
                                                      Optional[float], Optional[float]]:
    """ (last, mean, rate, slope, stddev) of a series as displayed in the tables; undefined figures are None. """
    if not series:
        return None, None, None, None, None
    mean = get_mean(series)
    regression = get_linear_regression(series)
    return (series[-1], mean, get_series_rate(series), regression[0] if regression else None,
            get_stddev(series, mean))


def get_nb_cores(nb_cpu_entries: int) -> int:
    """ Number of cores of a host from its number of CPU entries (the average entry is not a core). """
    return nb_cpu_entries - 1 if nb_cpu_entries > 1 else 1


def solaris_value(value: Optional[float], nb_cores: int, irix_mode: bool) -> Optional[float]:
    """ Displayed process CPU: the IRIX value as is, or divided by the core count in Solaris mode. """
    if value is None or irix_mode:
        return value
    return value / (nb_cores or 1)


def solaris_series(series: Sequence[float], nb_cores: int, irix_mode: bool) -> Sequence[float]:
    """ Plotted process CPU series, converted like solaris_value. """
    if irix_mode:
        return series
    return [x / (nb_cores or 1) for x in series]
