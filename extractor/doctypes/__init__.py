"""Document types as data: what each kind of report prints and how it maps to the contract.

One sub-package per contract (``final_accounts``). Each holds validated YAML (table shapes,
synonyms) and the Pydantic models that load it, so a new template is an edit of data, not
of code.
"""
