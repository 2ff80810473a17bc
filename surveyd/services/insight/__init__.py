"""Insight: the figures staff read. NPS, CSAT and CES with n and 95% intervals, over time and by group,
from pure arithmetic (metric_math) over the stored responses.

Uses: design.
"""
