"""Identity controls beyond passwords: TOTP second factor, session and API-token administration."""
