"""Insights: what the assistant did over a period, computed in SQL on the store.

It reads the tables of the refund store, the gateway and the handoff package, and Rasa's
tracker store for the NLU fallback rate (:mod:`bot.insights.nlu`), and writes none; nothing
below it imports it.
"""
