"""A faithful local OVHcloud API v1 (dedicatedCloud and bill routes) for demos, tests and
benchmarks.

`Simulator(fleet, SimulatorConfig(...))` serves a `Fleet` (from `load_fleet` or
`generate_fleet`) over HTTP at `Simulator.url`, so the real `ovh` client talks to it unchanged.
"""

from audit.simulator.api import (
    BILLING_CONSUMER_KEY,
    DEFAULT_APPLICATION_KEY,
    DEFAULT_APPLICATION_SECRET,
    READONLY_CONSUMER_KEY,
    REMEDIATE_CONSUMER_KEY,
    SimulatorConfig,
    SimulatorStats,
)
from audit.simulator.billing import BillingOptions
from audit.simulator.fleet import Fleet, load_fleet
from audit.simulator.generate import GeneratedFleet, generate_fleet
from audit.simulator.server import Simulator

__all__ = [
    "BILLING_CONSUMER_KEY",
    "DEFAULT_APPLICATION_KEY",
    "DEFAULT_APPLICATION_SECRET",
    "READONLY_CONSUMER_KEY",
    "REMEDIATE_CONSUMER_KEY",
    "BillingOptions",
    "Fleet",
    "GeneratedFleet",
    "Simulator",
    "SimulatorConfig",
    "SimulatorStats",
    "generate_fleet",
    "load_fleet",
]
