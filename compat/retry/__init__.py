"""Retrying: the policy, the engine that applies it, the state calls share, and the
records of what was decided.

* :mod:`compat.retry.policy`: :class:`~compat.RetryPolicy`, its fields and its one pure
  decision, ``decide``;
* :mod:`compat.retry.engine`: one call under a policy, attempt after attempt;
* :mod:`compat.retry.pacing` and :mod:`compat.retry.state`: per-target cooldown,
  learned rates, slow start and outage hold, as pure functions over a record of
  numbers, and the state object that keeps those records (in this process; Redis in
  :mod:`compat.retry.redis`);
* :mod:`compat.retry.events`: the decision records and their hooks.
"""
