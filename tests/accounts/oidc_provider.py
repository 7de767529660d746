"""A small OpenID Connect provider on 127.0.0.1 for the SSO tests: the shared loopback server
answering authorization, token (id_token signed RS256), JWKS, userinfo and discovery endpoints.
"""

import json
import secrets
import time
from urllib.parse import urlencode, urlparse

import josepy
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.core.servers import LoopbackServer


def _rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class OIDCProvider(LoopbackServer):
    client_id = "crisiscomm"
    client_secret = "stub-secret"
    kid = "stub-key-1"

    def __init__(self):
        super().__init__()
        self.key = josepy.JWKRSA(key=_rsa_key())
        self.rogue_key = None  # set to sign id_tokens with a key the JWKS does not publish
        self.user_claims: dict = {}  # who logs in next: sub, email, names, groups…
        self.token_overrides: dict = {}  # id_token claims to force (aud, exp, iss…)
        self.codes: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}
        self.issuer = f"{self.base}/realms/agency"

    @property
    def requests(self) -> list[str]:
        """ "GET /path" of each request, in arrival order."""
        with self.lock:
            return [f"{r['method']} {r['route']}" for r in self.received]

    # endpoints, as the relying party's settings name them
    @property
    def endpoints(self):
        base = self.issuer + "/protocol/openid-connect"
        return {
            "authorization": base + "/auth",
            "token": base + "/token",
            "userinfo": base + "/userinfo",
            "jwks": base + "/certs",
        }

    def id_token(self, nonce):
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": self.user_claims["sub"],
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            # Azure AD style: groups travel in the token.
            **{k: v for k, v in self.user_claims.items() if k in ("groups", "roles", "email")},
            **self.token_overrides,
        }
        key = josepy.JWKRSA(key=self.rogue_key) if self.rogue_key else self.key
        jws = josepy.JWS.sign(
            json.dumps(claims).encode(),
            key=key,
            alg=josepy.RS256,
            kid=self.kid,
            include_jwk=False,
            protect=frozenset(["alg", "kid"]),
        )
        return jws.to_compact().decode()

    def respond(self, request):
        paths = {name: urlparse(url).path for name, url in self.endpoints.items()}
        route, query = request["route"], request["query"]
        if request["method"] == "POST":
            return self._token(request.form()) if route == paths["token"] else (404, {"error": "not_found"})
        if route == urlparse(self.issuer).path + "/.well-known/openid-configuration":
            e = self.endpoints
            return 200, {
                "issuer": self.issuer,
                "authorization_endpoint": e["authorization"],
                "token_endpoint": e["token"],
                "userinfo_endpoint": e["userinfo"],
                "jwks_uri": e["jwks"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        if route == paths["authorization"]:
            if query.get("client_id") != self.client_id or query.get("response_type") != "code":
                return 400, {"error": "invalid_request"}
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"nonce": query.get("nonce"), "redirect_uri": query["redirect_uri"]}
            target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})
            return 302, None, {"Location": target}
        if route == paths["jwks"]:
            public = self.key.public_key().to_partial_json()
            return 200, {"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]}
        if route == paths["userinfo"]:
            token = request["headers"].get("Authorization", "").removeprefix("Bearer ")
            if token not in self.access_tokens:
                return 401, {"error": "invalid_token"}
            return 200, self.access_tokens[token]
        return 404, {"error": "not_found"}

    def _token(self, form):
        grant = self.codes.pop(form.get("code", ""), None)  # codes are single-use
        if (
            grant is None
            or form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
            or form.get("grant_type") != "authorization_code"
            or form.get("redirect_uri") != grant["redirect_uri"]
        ):
            return 400, {"error": "invalid_grant"}
        access = secrets.token_urlsafe(16)
        self.access_tokens[access] = dict(self.user_claims)
        return 200, {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.id_token(grant["nonce"]),
        }
