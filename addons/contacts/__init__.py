"""Contacts: accounts (organisations), contacts (people) and their addresses.

The public face for addons that depend on ``contacts``: import the models from here and the
services as ``from addons.contacts import services`` (``create_*``, ``find_or_create_*`` to
link a customer received from elsewhere instead of copying it, ``find_duplicates``,
``merge_*``...). Addons that only want to react to a merge or to a person being forgotten
implement the hooks declared in ``addons.contacts.hookspecs`` instead of importing anything.
"""

from addons.contacts.models import Account, Address, Contact, Tag

__all__ = ["Account", "Address", "Contact", "Tag"]
