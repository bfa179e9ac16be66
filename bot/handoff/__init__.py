"""Human handoff: the queue of conversations people own, and moving them between bot and people.

``models`` (the table), ``queue`` (its functions), ``hours`` (when people answer) and ``service``
(pausing and resuming Rasa, telling the buyer and the consoles). It depends on the gateway's
outbound path and Rasa client and on the console's agents, never the other way round; what it
shares with the action server (the reasons, the slots an agent may fill) is :mod:`bot.contract`.
"""
