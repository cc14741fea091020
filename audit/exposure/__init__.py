"""The period's exposure: daily observations recorded, and the month's figures computed from
them with pandas (per VM days, per licence peak and licence-days)."""
