"""Use cases, one package per capability; each public function is one use case and commits once.

The capabilities, in the order they may use each other (a package uses only those above it):
access, audit, audience, design, dispatch, insight, health, privacy, integrations, alerts, intake, answers,
sandbox. The modules here at the root are shared by all of them: errors (what services raise), runtime (the app's settings),
tokens (signed links and button data), config_cache (what requests read that only staff change, per process),
row_writes (rows written without the unit of work, for hot paths). Each package's docstring ends with the line "Uses: ..."
naming the capabilities it imports; tests/services/test_layout.py holds the code to it.
"""
