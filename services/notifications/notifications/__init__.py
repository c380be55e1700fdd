"""Notifications service: tells shoppers and sellers what happened, in Bahasa Indonesia."""
