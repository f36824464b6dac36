"""The command line's commands: demo, inspect, compare (and the workloads they run)."""
