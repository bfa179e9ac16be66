"""Conversation review: what the NLU did not understand, a person's verdict, and new NLU data.

It reads Rasa's tracker store (read-only, :mod:`bot.review.tracker`) and the handoff
package's table, and writes only its own (:mod:`bot.review.models`). The console's review page,
``refundbot nlu export-reviewed`` and the report's NLU fallback rate (:mod:`bot.insights.nlu`)
use it; the gateway, the refund store and the actions never do.
"""
