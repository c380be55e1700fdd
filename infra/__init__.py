"""Local infrastructure for development and tests: a real Kafka broker (KRaft, from Maven
Central jars) and a MongoDB-protocol server (SecantusDB), run as plain processes.

Entry point: ``python infra/stack.py up|down|status [--profile dev|test]``; the test suite
imports :mod:`infra.stack` (``from infra import stack``) with the repository root on sys.path.
"""
