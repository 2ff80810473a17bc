"""Insight: the figures staff read. NPS, CSAT and CES with n and 95% intervals, over time and by group,
from pure arithmetic (metric_math) over the stored responses; the journey, goals and their verdicts, root
causes, the export, the sentiment of comments, and the periodic report (sent through dispatch's email channel).

Uses: design, dispatch.
"""
