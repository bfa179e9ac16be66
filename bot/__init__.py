"""Refund assistant: gateway, channels and the refund store."""
