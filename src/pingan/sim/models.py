"""An index the closed loop needs and the demo made visible (created by migration 0009_sim).

`pingan.cases.service._close` looks up the cases merged into the one being closed
(`WHERE merged_into_id = :id`) on every 结案. Without an index each close scans the whole cases table, which
made seeding the demo quadratic (and would slow every close in a large city). Declared here, next to the code
that measured it, following the metrics package's example for indexes on tables other packages own.
"""

from __future__ import annotations

from sqlalchemy import Index

from pingan.cases.models import Case

ix_cases_merged_into_id = Index("ix_cases_merged_into_id", Case.merged_into_id)
