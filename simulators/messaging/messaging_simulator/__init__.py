"""Local stand-in for the WhatsApp/SMS provider and the SMTP relay Beli NTT sends through.

It accepts what the notifications service sends, keeps it in memory and shows it over HTTP
(`GET /` for people, `GET /v1/messages` and `GET /mail` for tests), with faults on demand.
"""
