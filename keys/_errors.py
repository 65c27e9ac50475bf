from __future__ import annotations


class KeysError(Exception):
    """Base of every error `keys` raises: a stable ``code`` and a clear ``message``."""

    code = "keys_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class KeyStoreError(KeysError):
    """The key store on disk is missing, incomplete or asked for something it does not hold."""

    code = "keystore_error"


class CertificateError(KeysError):
    """A certificate is not acceptable: untrusted, revoked, expired, wrong usage or profile."""

    code = "certificate_invalid"


class SignatureError(KeysError):
    """A signature is missing, malformed, or does not verify."""

    code = "signature_invalid"
