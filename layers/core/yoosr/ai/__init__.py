"""Model access. `types` is cheap to import (no httpx); `openrouter` holds the HTTP client."""
