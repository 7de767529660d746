"""A small OpenID Connect provider on 127.0.0.1 for the SSO tests: a real HTTP server in a
thread with authorization, token (id_token signed RS256), JWKS, userinfo and discovery endpoints.
"""

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

import josepy
from cryptography.hazmat.primitives.asymmetric import rsa


def _rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class OIDCProvider:
    client_id = "crisiscomm"
    client_secret = "stub-secret"
    kid = "stub-key-1"

    def __init__(self):
        self.key = josepy.JWKRSA(key=_rsa_key())
        self.rogue_key = None  # set to sign id_tokens with a key the JWKS does not publish
        self.user_claims: dict = {}  # who logs in next: sub, email, names, groups…
        self.token_overrides: dict = {}  # id_token claims to force (aud, exp, iss…)
        self.codes: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}
        self.requests: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}/realms/agency"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

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

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

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

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _json(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urlparse(self.path)
                provider.requests.append(f"GET {url.path}")
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                path = provider.issuer.split(str(provider.server.server_address[1]))[1]
                if url.path == path + "/.well-known/openid-configuration":
                    e = provider.endpoints
                    return self._json(
                        200,
                        {
                            "issuer": provider.issuer,
                            "authorization_endpoint": e["authorization"],
                            "token_endpoint": e["token"],
                            "userinfo_endpoint": e["userinfo"],
                            "jwks_uri": e["jwks"],
                            "id_token_signing_alg_values_supported": ["RS256"],
                        },
                    )
                if url.path == urlparse(provider.endpoints["authorization"]).path:
                    if query.get("client_id") != provider.client_id or query.get("response_type") != "code":
                        return self._json(400, {"error": "invalid_request"})
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = {
                        "nonce": query.get("nonce"),
                        "redirect_uri": query["redirect_uri"],
                    }
                    target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                if url.path == urlparse(provider.endpoints["jwks"]).path:
                    public = provider.key.public_key().to_partial_json()
                    return self._json(
                        200, {"keys": [{**public, "kid": provider.kid, "alg": "RS256", "use": "sig"}]}
                    )
                if url.path == urlparse(provider.endpoints["userinfo"]).path:
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    if token not in provider.access_tokens:
                        return self._json(401, {"error": "invalid_token"})
                    return self._json(200, provider.access_tokens[token])
                return self._json(404, {"error": "not_found"})

            def do_POST(self):
                url = urlparse(self.path)
                provider.requests.append(f"POST {url.path}")
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if url.path != urlparse(provider.endpoints["token"]).path:
                    return self._json(404, {"error": "not_found"})
                grant = provider.codes.pop(form.get("code", ""), None)  # codes are single-use
                if (
                    grant is None
                    or form.get("client_id") != provider.client_id
                    or form.get("client_secret") != provider.client_secret
                    or form.get("grant_type") != "authorization_code"
                    or form.get("redirect_uri") != grant["redirect_uri"]
                ):
                    return self._json(400, {"error": "invalid_grant"})
                access = secrets.token_urlsafe(16)
                provider.access_tokens[access] = dict(provider.user_claims)
                return self._json(
                    200,
                    {
                        "access_token": access,
                        "token_type": "Bearer",
                        "expires_in": 300,
                        "id_token": provider.id_token(grant["nonce"]),
                    },
                )

        return Handler
