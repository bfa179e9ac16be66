"""The agent console: sign-in, the handoff queue, live conversations and refund review."""
