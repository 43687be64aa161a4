"""Delivery: reports and alerts that reach people (docs/delivery.md)."""
