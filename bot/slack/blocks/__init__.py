"""Pure Block Kit builders: data in, Slack payload dicts out (built with slack_sdk's block models)."""
