//! OpenID Connect on top of eCitizen's OAuth: the RS256 ID token, the
//! discovery document and the JWKS, so standard relying-party libraries work
//! unmodified.
//!
//! eCitizen documents no discovery document, JWKS or ID-token claims (the
//! guide only says the token response "includes an ID Token … that contains
//! claims about the authenticated user"). The sandbox serves them anyway,
//! behind the world's `discovery` switch: the registered claims of OIDC Core
//! §2 plus the user-info fields under their user-info names.
//!
//! **Invariant:** one key signs every tenant's ID tokens; its `kid` is the
//! RFC 7638 thumbprint, so it only changes if the committed key does.

use super::grants::{Authorization, IssuedToken};
use super::paths;
use super::wire::{DiscoveryDocument, IdTokenClaims, Jwk, JwkSet, UserInfoResponse};
use super::world::{ClientKind, UserInfoKeys, World};
use crate::crypto::jwt::{self, JwtError, RsaJwtSigner};

/// The RSA-2048 key (PKCS#8, generated once with openssl) that signs every
/// ID token; relying parties get its public half from the JWKS. A test key:
/// public by design, worthless outside the sandbox.
pub(crate) const SIGNING_KEY_PEM: &str = include_str!("keys/oidc-signing-key.pem");

/// The ID-token signer shared by every tenant.
#[derive(Debug, Clone)]
pub(crate) struct Oidc {
    signer: RsaJwtSigner,
}

impl Oidc {
    /// The signer of the committed eCitizen key.
    pub(crate) fn from_committed_key() -> Result<Oidc, JwtError> {
        Ok(Oidc { signer: RsaJwtSigner::from_pkcs8_pem(SIGNING_KEY_PEM)? })
    }

    #[cfg(test)]
    pub(crate) fn kid(&self) -> &str {
        self.signer.kid()
    }

    /// `GET /.well-known/jwks.json`.
    pub(crate) fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![Jwk {
                kty: "RSA",
                use_: "sig",
                alg: jwt::ALGORITHM,
                kid: self.signer.kid().to_owned(),
                n: self.signer.modulus().to_owned(),
                e: self.signer.exponent().to_owned(),
            }],
        }
    }

    /// The ID token for an exchanged code (OIDC Core §3.1.3.3, §3.1.3.6):
    /// it lives as long as the access token and carries its `at_hash`.
    pub(crate) fn id_token(
        &self,
        issuer: &str,
        authorization: &Authorization,
        user: &UserInfoResponse,
        token: &IssuedToken,
    ) -> Result<String, JwtError> {
        let mut user = user.clone();
        // `sub` is a registered claim here; the user-info copy must not repeat it.
        user.sub = None;
        user.omit_nulls = true;
        let claims = IdTokenClaims {
            iss: issuer.to_owned(),
            sub: authorization.user_id.to_string(),
            aud: authorization.client_id.clone(),
            exp: token.expires_at.timestamp(),
            iat: token.issued_at.timestamp(),
            auth_time: authorization.auth_time.timestamp(),
            nonce: authorization.nonce.clone(),
            at_hash: jwt::at_hash(&token.token),
            user,
        };
        self.signer.sign(&claims)
    }
}

/// The issuer identifier for a base URL: no trailing slash, so that
/// `{issuer}/.well-known/openid-configuration` is the discovery URL.
pub(crate) fn issuer(base_url: &str) -> String {
    base_url.trim_end_matches('/').to_owned()
}

/// `GET /.well-known/openid-configuration` for an issuer (OpenID Connect
/// Discovery 1.0 §3, RFC 8414 §2).
pub(crate) fn discovery(issuer: &str, world: &World) -> DiscoveryDocument {
    let endpoint = |path: &str| format!("{issuer}{path}");
    let any_public = world.clients.iter().any(|c| c.kind == ClientKind::Public);
    let any_plain = world.clients.iter().any(|c| c.allow_plain_pkce);
    let mut auth_methods = vec!["client_secret_post", "client_secret_basic"];
    if any_public {
        auth_methods.push("none");
    }
    let mut pkce_methods = vec!["S256"];
    if any_plain {
        pkce_methods.push("plain");
    }
    let (gender, kra) = match world.settings.userinfo_keys {
        UserInfoKeys::Seed => ("Gender", "Kra_pin_number"),
        UserInfoKeys::SnakeCase => ("gender", "kra_pin_number"),
    };
    DiscoveryDocument {
        issuer: issuer.to_owned(),
        authorization_endpoint: endpoint(paths::AUTHORIZE),
        token_endpoint: endpoint(paths::TOKEN),
        // The guide's spelling; `/api/user-info` answers the same.
        userinfo_endpoint: endpoint(paths::USERINFO),
        jwks_uri: endpoint(paths::JWKS),
        introspection_endpoint: endpoint(paths::INTROSPECT),
        scopes_supported: vec!["openid"],
        response_types_supported: vec!["code"],
        response_modes_supported: vec!["query"],
        grant_types_supported: vec!["authorization_code"],
        subject_types_supported: vec!["public"],
        id_token_signing_alg_values_supported: vec![jwt::ALGORITHM],
        token_endpoint_auth_methods_supported: auth_methods,
        // The one integration that calls introspection sends no client
        // authentication, and the guide shows none.
        introspection_endpoint_auth_methods_supported: vec!["none"],
        code_challenge_methods_supported: pkce_methods,
        claims_supported: vec![
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "at_hash",
            "id",
            "id_number",
            "email",
            "active",
            "first_name",
            "last_name",
            "surname",
            "account_type",
            "mobile_number",
            "mobile_verified",
            gender,
            kra,
            "dob",
        ],
        request_parameter_supported: false,
        authorization_response_iss_parameter_supported: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeDelta, TimeZone, Utc};
    use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreProviderMetadata};
    use openidconnect::{AccessToken, AccessTokenHash, ClientId, IssuerUrl, Nonce};

    const ISSUER: &str = "http://127.0.0.1:4010";
    /// The committed key's RFC 7638 thumbprint. If this test fails, the key
    /// changed: every relying party that cached the JWKS must fetch it again.
    const KID: &str = "mHFdQw22-Ro8gajFmMITyaA4L7vb_03JqD0dktlctt8";

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap()
    }

    fn signed(nonce: Option<&str>) -> (String, IssuedToken) {
        let world = World::from_overlays(&[]).unwrap();
        let oidc = Oidc::from_committed_key().unwrap();
        let authorization = Authorization {
            client_id: "PesaSandboxEcitizenClient".into(),
            redirect_uri: "http://localhost:3000/callback".into(),
            user_id: 1,
            scope: "openid".into(),
            nonce: nonce.map(str::to_owned),
            challenge: None,
            auth_time: t0(),
        };
        let token = IssuedToken {
            token: "48wJCHeJpUpeGUrDsLXc1AC8gzhgn7HX".into(),
            issued_at: t0(),
            expires_at: crate::clock::after(t0(), TimeDelta::seconds(3600)),
        };
        let user = UserInfoResponse::from_user(world.user(1).unwrap(), UserInfoKeys::Seed, true);
        (oidc.id_token(ISSUER, &authorization, &user, &token).unwrap(), token)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Hostile text in the claims (a nonce, a name) survives signing and
        /// comes back unchanged from a JWT library's verification.
        #[test]
        fn any_claim_text_round_trips_through_a_verified_id_token(text in ".{0,200}") {
            let world = World::from_overlays(&[]).unwrap();
            let oidc = Oidc::from_committed_key().unwrap();
            let mut user = world.user(1).unwrap().clone();
            user.first_name = Some(text.clone());
            let authorization = Authorization {
                client_id: "c".into(),
                redirect_uri: "http://localhost:3000/callback".into(),
                user_id: 1,
                scope: "openid".into(),
                nonce: Some(text.clone()),
                challenge: None,
                auth_time: t0(),
            };
            let token = IssuedToken { token: "t".repeat(32), issued_at: t0(), expires_at: t0() };
            let claims = UserInfoResponse::from_user(&user, UserInfoKeys::Seed, false);
            let jwt = oidc.id_token(ISSUER, &authorization, &claims, &token).unwrap();
            let jwk = &oidc.jwks().keys[0];
            let key = jsonwebtoken::DecodingKey::from_rsa_components(&jwk.n, &jwk.e).unwrap();
            let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
            validation.validate_exp = false;
            validation.set_audience(&["c"]);
            let read = jsonwebtoken::decode::<serde_json::Value>(&jwt, &key, &validation).unwrap().claims;
            proptest::prop_assert_eq!(&read["nonce"], &serde_json::Value::String(text.clone()));
            proptest::prop_assert_eq!(&read["first_name"], &serde_json::Value::String(text));
        }
    }

    #[test]
    fn the_kid_is_the_committed_keys_thumbprint() {
        let oidc = Oidc::from_committed_key().unwrap();
        assert_eq!(oidc.kid(), KID);
        assert_eq!(oidc.jwks().keys[0].kid, KID);
    }

    #[test]
    fn the_committed_key_is_rsa_2048_with_exponent_65537() {
        use base64::Engine;
        let jwk = &Oidc::from_committed_key().unwrap().jwks().keys[0];
        assert_eq!(jwk.e, "AQAB");
        assert_eq!(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&jwk.n).unwrap().len(), 256);
    }

    #[test]
    fn the_id_token_carries_the_registered_and_the_ecitizen_claims() {
        let (token, _) = signed(Some("n-0S6_WzA2Mj"));
        let payload = token.split('.').nth(1).unwrap();
        use base64::Engine;
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["sub"], "1");
        assert_eq!(claims["aud"], "PesaSandboxEcitizenClient");
        assert_eq!(claims["exp"], t0().timestamp() + 3600);
        assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
        assert_eq!(claims["id_number"], "12345678");
        assert_eq!(claims["Kra_pin_number"], "A1000121");
        let text = String::from_utf8(json).unwrap();
        assert_eq!(text.matches("\"sub\"").count(), 1, "{text}");
        let (without, _) = signed(None);
        assert!(!String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(without.split('.').nth(1).unwrap()).unwrap()
        )
        .unwrap()
        .contains("nonce"));
    }

    /// An unmodified OpenID Connect library accepts the discovery document,
    /// the JWKS and the ID token, nonce and `at_hash` included.
    #[test]
    fn the_openidconnect_crate_verifies_the_id_token_through_discovery_and_jwks() {
        let world = World::from_overlays(&[]).unwrap();
        let oidc = Oidc::from_committed_key().unwrap();
        let discovery_json = serde_json::to_string(&discovery(ISSUER, &world)).unwrap();
        let metadata: CoreProviderMetadata = serde_json::from_str(&discovery_json).expect("discovery parses");
        assert_eq!(metadata.issuer().as_str(), ISSUER);
        assert_eq!(metadata.jwks_uri().as_str(), format!("{ISSUER}/.well-known/jwks.json"));
        let jwks: CoreJsonWebKeySet =
            serde_json::from_str(&serde_json::to_string(&oidc.jwks()).unwrap()).expect("JWKS parses");

        let (token, access) = signed(Some("n-0S6_WzA2Mj"));
        let id_token: CoreIdToken = token.parse().expect("ID token parses");
        let verifier = CoreIdTokenVerifier::new_public_client(
            ClientId::new("PesaSandboxEcitizenClient".into()),
            IssuerUrl::new(ISSUER.into()).unwrap(),
            jwks,
        )
        .set_time_fn(|| Utc.with_ymd_and_hms(2026, 1, 1, 8, 30, 0).unwrap());
        let claims = id_token.claims(&verifier, &Nonce::new("n-0S6_WzA2Mj".into())).expect("ID token verifies");
        assert_eq!(claims.subject().as_str(), "1");
        assert_eq!(claims.email().map(|e| e.as_str()), Some("user@ecitizen.com"));

        let expected = AccessTokenHash::from_token(
            &AccessToken::new(access.token.clone()),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(claims.access_token_hash(), Some(&expected));

        assert!(id_token.claims(&verifier, &Nonce::new("other".into())).is_err(), "a wrong nonce fails");
        let late = verifier.set_time_fn(|| Utc.with_ymd_and_hms(2026, 1, 1, 9, 30, 0).unwrap());
        assert!(id_token.claims(&late, &Nonce::new("n-0S6_WzA2Mj".into())).is_err(), "an expired token fails");
    }

    #[test]
    fn discovery_lists_every_endpoint_under_the_issuer() {
        let world = World::from_overlays(&[]).unwrap();
        let doc = discovery(&issuer("http://localhost:4010/"), &world);
        assert_eq!(doc.issuer, "http://localhost:4010");
        assert_eq!(doc.authorization_endpoint, "http://localhost:4010/oauth/authorize");
        assert_eq!(doc.token_endpoint, "http://localhost:4010/oauth/access-token");
        assert_eq!(doc.userinfo_endpoint, "http://localhost:4010/api/userinfo");
        assert_eq!(doc.introspection_endpoint, "http://localhost:4010/api/oauth/token/introspect");
        assert_eq!(doc.code_challenge_methods_supported, vec!["S256"]);
        assert_eq!(
            doc.token_endpoint_auth_methods_supported,
            vec!["client_secret_post", "client_secret_basic", "none"],
            "the default world has a public client"
        );
    }
}
