"""Widgets and dialogs shared by the wizard and the dashboard."""
