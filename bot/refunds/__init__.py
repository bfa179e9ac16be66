"""Refunds: the policy (pure rules), the store (SQLAlchemy) and their errors."""
