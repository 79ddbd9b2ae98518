"""The composition layer (cosmicpython's service layer): the use cases that span modules, and nothing else.

The seven modules never import each other; what needs two of them - the conversation engine's ports, a booking at
the catalog's price, onboarding a tenant - is composed here, from each module's narrow public surface (functions
returning frozen records), inside the caller's session so everything commits or rolls back together. This package
holds no SQL of its own and imports no module's ``models``.
"""
