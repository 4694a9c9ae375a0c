"""``gateway migrate``: copy a helpdesk from one backend to another through the canonical model.

Migration is another client of the hub: it reads canonical records from one backend and
writes them through another, with the store as its journal.  Nothing here knows a vendor;
what a target cannot hold comes from the target's capabilities (``Backend.support``).
"""
