"""The wizard's screens, one per step, plus the modal dialogs."""
