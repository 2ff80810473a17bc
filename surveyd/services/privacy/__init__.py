"""A person's data on request (person_export) and gone on request (erasure), every consent change on record
(the ledger lives with the contact, in audience.contacts), and addresses never to message again (audience).

Uses: audience, audit, insight.
"""
