"""Routes that providers call: verify, store the raw delivery once, act on it once, answer quickly."""
