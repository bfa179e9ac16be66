"""Rasa custom actions and form validators: thin, one module per flow."""
