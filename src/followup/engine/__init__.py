"""The engine: the impure glue that runs one cycle for one account.

`apply` writes what the ledger holds exactly once, `cycle` syncs, plans and applies, `undo`
takes back what followup wrote.
"""
