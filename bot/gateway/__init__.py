"""The gateway: one aiohttp process that owns every channel and routes buyers to Rasa."""
