"""Reconciliation (对账): a day's orders against the provider's statement, differences to tickets.

A domain package on the kernel only (``kernel.errors``, ``kernel.durations``, ``kernel.events``):

* :mod:`~reconciliation.statements` and :mod:`~reconciliation.orders` read the two sides into one
  row shape (bad rows to :mod:`~reconciliation.rejects`), :mod:`~reconciliation.textfile` and
  :mod:`~reconciliation.fields` below them; :mod:`~reconciliation.statementscan` and
  :mod:`~reconciliation.orderscan` check the plain rows of a big file in DuckDB first
  (:mod:`~reconciliation.bulk`) and leave the rest to them;
* :mod:`~reconciliation.matching` joins them in DuckDB; :mod:`~reconciliation.judge` names the
  :mod:`~kernel.differences` of each difference;
* :mod:`~reconciliation.holding`, :mod:`~reconciliation.repairs` and :mod:`~reconciliation.tickets`
  keep their state in the :mod:`~reconciliation.ledger` SQLite file;
* :mod:`~reconciliation.run` is one run, start to end; :mod:`~reconciliation.simulate` a test day.
"""

from kernel.differences import CLASSES, ClassSpec
from kernel.reconciliation import PROVIDERS, GenericColumns, Policy, Repairs
from reconciliation.judge import Difference
from reconciliation.ledger import Ledger
from reconciliation.run import Run, reconcile
from reconciliation.simulate import simulate, write_simulation

__all__ = [
    "CLASSES",
    "PROVIDERS",
    "ClassSpec",
    "Difference",
    "GenericColumns",
    "Ledger",
    "Policy",
    "Repairs",
    "Run",
    "reconcile",
    "simulate",
    "write_simulation",
]
