"""The satisfaction survey: a 1–5 rating and an optional comment after an event (issue 15).

The buyer is asked after submitting a refund application in the chat, after an agent closed
their conversation, and after being told their refund was paid; at most once per conversation
and event, never twice in 24 hours to one buyer (the customer, else the conversation), never
while a form is open in Rasa (read from the tracker over Rasa's HTTP API) and never while a
person has the conversation.

Why the gateway and not a Rasa form: two of the three triggers are events Rasa never sees (an
agent closing from the console, the notifier's paid-out news), and a form in the dialogue would
need new intents, stories and a retrained NLU model, whose figures move with small data
changes. So the survey is an event-driven flow in the gateway, on the seams it already has:

* the question goes out through the one outbound path, with rating buttons whose payloads
  (``/survey_rate{...}``) only the gateway's buttons carry, on the widget and Telegram alike;
* the router shows each buyer message to :meth:`~bot.survey.service.Survey.before` before
  Rasa: while a question is open, a press or a typed "4", "4/5", "five", "great", "⭐⭐⭐"
  (:mod:`bot.survey.answers`) is the rating; then a short thanks with a [No comment] button,
  and the next typed message is the comment unless it reads as a new request. Anything that is
  not an answer closes the survey and goes to Rasa untouched, as does everything after the
  question has been open for 30 minutes; the transcript keeps every word either way;
* the submission is seen after the turn (:meth:`~bot.survey.service.Survey.after`): an
  application of the conversation newer than the newest one before the turn.

Modules: models (the table, migration ``0008``), answers (reading answers: pure), store,
service. Depends on the gateway and the refund store; the gateway reaches it only through the
hooks the composition root wires.
"""
