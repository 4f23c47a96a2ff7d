"""Small reusable widgets of the wizard (no core logic here)."""
