"""Sign-up, sign-in and API session tokens."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from railsaas.schemas.common import Body

# Lengths are checked loosely here and precisely by the services (a password's limit is in
# UTF-8 bytes, not characters), so every message about a field comes from one place.


class RegisterRequest(Body):
    email: str = Field(max_length=320, json_schema_extra={"format": "email"})
    password: str = Field(max_length=1024, description="12+ characters, at most 72 bytes in UTF-8.")
    name: str = Field(max_length=255)
    utm_source: str | None = Field(
        None,
        max_length=255,
        description="Where the person came "
        "from (first-touch UTM), kept on the account and workspace.",
    )
    utm_medium: str | None = Field(None, max_length=255)
    utm_campaign: str | None = Field(None, max_length=255)


class RegistrationAccepted(BaseModel):
    """The same for a new address and one that already has an account."""

    status: Literal["accepted"] = "accepted"
    email: str = Field(description="The address, as stored (lower-case).")
    message: str = "Check your inbox: open the link we sent to confirm your address, then sign in."


class LoginRequest(Body):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    totp: str | None = Field(
        None,
        max_length=64,
        description="For an account with two-factor sign-in: the current 6-digit code from "
        "its authenticator app, or one of its recovery codes (each works once). Without it "
        "such an account gets 401 `second_factor_required`.",
    )


class RefreshRequest(Body):
    refresh_token: str = Field(max_length=4096)


class LogoutRequest(Body):
    refresh_token: str | None = Field(default=None, max_length=4096)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (a scheme name)
    expires_in: int = Field(description="Seconds until the access token expires.")
