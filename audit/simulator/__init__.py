"""A faithful local OVHcloud API v1 (dedicatedCloud routes) for demos, tests and benchmarks."""
