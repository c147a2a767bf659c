"""The Slack side of the bot: ids, Block Kit builders, outbound delivery, permissions."""
