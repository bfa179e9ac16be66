"""``refundbot cluster``: several of every process on one machine, behind nginx.

:mod:`bot.cluster.layout` lays the cluster out from ``REFUNDBOT_CLUSTER_*``,
:mod:`bot.cluster.nginx` writes nginx's configuration, :mod:`bot.cluster.control` holds the
commands and the supervisor's process (``python -m bot.cluster``), and :mod:`bot.cluster.state`
the file that says what it started.
"""
