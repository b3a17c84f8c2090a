"""The core: where tokens may go (`Host`), what a provider is (`TokenProvider`), the
engine that caches and refreshes dynamic tokens (`CachedTokenProvider`) and its clock.
It knows nothing of HTTP clients; `tokenprovider.transports` attaches its tokens."""
