"""Apply an ovh-license-audit remediation plan to OVHcloud Hosted Private Cloud VMs.

Dry run by default: every licence action is checked against the VM as it is now and reported,
nothing is changed. With --apply, each action still matching its VM is sent (setLicense or
removeLicense), its task is followed to the end, and every outcome is written to a results CSV
as it happens, with a rollback plan (the previous licence of each changed VM) at the end.

This is the whole remediation runtime and needs only Python 3.11+ and the `ovh` package: the
modules of `audit.runtime` are joined into every generated `remediation/remediate.py`, with the
plan appended as data, and `ovh-license-audit remediate` imports them. The tool and the script
therefore cannot diverge.

Credentials come the `ovh` way: OVH_APPLICATION_KEY, OVH_APPLICATION_SECRET and
OVH_CONSUMER_KEY, or an ovh.conf. The consumer key needs POST on /dedicatedCloud/*; a
read-only key is stopped at the first POST, before anything else is attempted.

A run stops early, after recording the action in hand, when the key is refused, when the
endpoint cannot be reached (after the call's bounded retries), or on SIGINT or SIGTERM: the
remaining actions are recorded as not attempted, the rollback plan is written, and one line on
stderr says why and where the rollback plan is.

Exit codes: 0 every attempted action succeeded (skipped, capped and manual items included);
1 at least one action failed or its task did not end in time; 2 usage, plan, credential or
rights error, unreachable endpoint, or the run was stopped by a signal (one line on stderr).
"""

# The modules in dependency order: the generated script is their sources joined in this order.
# The rest of the package imports these helpers from here; nothing here imports the package.
MODULES = ("exits", "text", "ovhapi", "plan", "results", "runner", "cli")
