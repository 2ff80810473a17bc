"""Design: what staff define. Surveys and their immutable versions, the answer scales of each kind,
touchpoints and their journey stages, triggers, and the placeholders a survey's own wording may use.

Uses: nothing but the shared modules.
"""
