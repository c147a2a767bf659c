"""Workflows: a state change through the services plus its Slack notifications, in one transaction."""
