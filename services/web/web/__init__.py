"""Beli NTT web app: server-rendered pages over the services\x27 public HTTP APIs."""
