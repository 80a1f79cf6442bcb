"""`skiff chaos`: inject faults into a running cluster while clients drive a recorded
workload, then prove from the history that nothing was lost (Jepsen-style, built in)."""
