"""Rasa NLU components of the assistant's own (named in ``config.yml``'s pipeline)."""
