"""The typed records a run produces, shared by every stage: built once, read by the renderers.

`findings.json` is written and read only through `RunReport.to_json` / `RunReport.from_json`
(audit/model/run.py), so an offline rebuild works on the same objects as the job.
"""
