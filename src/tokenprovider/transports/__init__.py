"""Transports: attach a provider's token to an HTTP client's requests, apply the host
rule and retry once on a 401. Each loads only with the client it serves."""
