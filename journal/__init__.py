"""The signed, tamper-evident access journal of the ПАК.

`journal.journal.Journal` is the one way to write the journal's tables; everything
else reads. Records form a hash chain; each is signed by the key of who acted.
See DESIGN.md for the record format and the invariants.
"""
