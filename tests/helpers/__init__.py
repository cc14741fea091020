"""What the tests share, imported as `tests.helpers.<module>`: the one builder of API-shaped
VMs (vms.py), small fleets and runs for the reports, the history and the mail, the published
OVHcloud schema, and the external tools some tests need."""
