"""The Textual wizard: presents the core's models and delegates every decision to it."""
