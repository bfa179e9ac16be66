"""Measurement tooling: a real stack on free ports, a widget client, scripted buyers, the bench.

``python -m bench.eval`` (``make eval``) measures how well the assistant understands;
``python -m bench.load`` (``make bench``) how fast it answers, through the gateway and
straight to Rasa side by side. Neither touches ``var/``: each runs its own temporary stack.
"""
