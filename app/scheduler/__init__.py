"""Scheduling: planning occurrences, firing them, dispatching runs, and their lifecycle rules."""
