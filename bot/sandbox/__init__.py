"""Local sandbox: a Slack stand-in (Web API over HTTP + workspace model) and a signed request driver."""
