"""Load and cost limits: token buckets per user and channel (Redis or in process), and the daily spend cap.

Imports the shared ``rag`` modules, ``rag.providers`` (the spend cap wraps generators and rerankers) and
``rag.answer`` (the extractive generator answers once the cap is reached).
"""
