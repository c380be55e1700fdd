"""Payments service: Midtrans transactions, notifications, and the PAD levy ledger."""
