"""Agents: the process that dials the server, its executors, and the wire protocol."""
