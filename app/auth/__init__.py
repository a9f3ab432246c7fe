"""Sign in with Hugging Face (OAuth 2 / OpenID Connect), when configured."""
