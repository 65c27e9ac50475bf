"""The orchestrator: the `lgsp-sim` CLI, topologies, scenarios, benchmarks and reports."""
