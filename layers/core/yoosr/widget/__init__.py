"""The public widget API: credentials, CORS and use cases."""
