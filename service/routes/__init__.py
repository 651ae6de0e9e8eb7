"""The HTTP routes by area: questions (/ask, /search), the book's outline (/chapters, /passages),
the OpenAI-compatible chat (/v1/*) and health checks."""
