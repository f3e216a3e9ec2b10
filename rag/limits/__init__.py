"""Load and cost limits: token buckets per user and channel (Redis or in process), and the daily spend cap."""
