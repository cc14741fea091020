"""What report.xlsx promises `import-review`: the Findings sheet's name, the headers of the
cells that name a finding and of the review columns, the review statuses, and the document
property that says which run the workbook reviews. The workbook writes them, the history's
review import reads them: one spelling for both.
"""

from __future__ import annotations

FINDINGS_SHEET = "Findings"
# Earlier periods' shortfalls not settled, with review columns (any later workbook has it).
SHORTFALLS_SHEET = "Unsettled shortfalls"
SHORTFALL_HEADERS: tuple[str, ...] = ("Period", "Service", "Datacenter", "VM id")
# The cells that name a finding (its fingerprint: audit/model/identity.py).
SERVICE, DATACENTER, VM_ID, RULE = "Service", "Datacenter", "VM id", "Rule"
IDENTITY_HEADERS: tuple[str, ...] = (SERVICE, DATACENTER, VM_ID, RULE)
# The columns reviewers edit.
REVIEW_STATUS, OWNER, COMMENT = "Review status", "Owner", "Comment"
REVIEW_HEADERS: tuple[str, ...] = (REVIEW_STATUS, OWNER, COMMENT)
# What an auditor may say of a finding in the review status column (a drop-down). `settled`
# closes a period's shortfall (a Windows server that ran unbilled): until a review of that
# period says so, every later run lists it (findings.json `unsettled_shortfalls`).
SETTLED = "settled"
REVIEW_STATUSES: tuple[str, ...] = ("open", "accepted", "fixed", "false positive", SETTLED)
# The custom document property naming the period of the run the workbook shows.
PERIOD_PROPERTY = "period"
