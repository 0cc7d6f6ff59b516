"""Time units: the model runs in days; months appear only in config and reports."""

DAYS_PER_MONTH = 365.25 / 12
DAYS_PER_WEEK = 7.0
WORKING_DAYS_PER_WEEK = 5.0
CALENDAR_PER_WORKING_DAY = DAYS_PER_WEEK / WORKING_DAYS_PER_WEEK  # staff time on the clock


def months_to_days(months: float) -> float:
    return months * DAYS_PER_MONTH


def days_to_months(days: float) -> float:
    return days / DAYS_PER_MONTH


def per_month_to_per_day(rate: float) -> float:
    return rate / DAYS_PER_MONTH
