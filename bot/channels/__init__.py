"""Channel adapters of the gateway: Telegram and the web chat widget."""
