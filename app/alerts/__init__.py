"""Alerts: rules on the runs of a task or group, sent through integrations (webhook, Slack,
email) by a background sender that retries with backoff and logs each delivery."""
