"""OIDC trusted publishing: issuers, their keys, token verification and publisher matching."""
