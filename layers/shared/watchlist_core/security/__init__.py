"""Password hashing, token signing and token revocation."""
