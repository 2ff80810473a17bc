"""The audit log: who changed what, when and from where (trail), and reading it back (entries).

Uses: nothing.
"""
