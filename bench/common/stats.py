"""Medians and ratios: every figure the benchmark reports is a median, and
every comparison a ratio of two medians from the same run."""
import statistics


def median(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 1) if values else None


def spread(values):
    """(min, max) of the values that are numbers, or (None, None)."""
    values = [v for v in values if v is not None]
    return (round(min(values), 1), round(max(values), 1)) if values else (None, None)


def ratio(numerator, denominator):
    if numerator is None or not denominator:
        return None
    value = numerator / denominator
    return round(value, 3 if value < 0.1 else 2)  # 0.004, not 0.0


def rotated(items, round_index):
    """items in the order of round round_index: one step further each round,
    so no variant always runs first (after an idle moment) or last."""
    shift = round_index % len(items)
    return list(items[shift:]) + list(items[:shift])


def quantile(ordered, q):
    """The q-quantile of sorted values (nearest rank below): quantile(v, 0.9) is p90."""
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None
