//! eCitizen SSO: the provider's tests, and the helpers they share.
//!
//! The flows run over real HTTP against an in-process sandbox: with the
//! unmodified `openidconnect` and `oauth2` crates, with a PKCE client written
//! here from RFC 7636 alone, and with a browserless "user" that reads the
//! login page's form and submits it.

mod admin;
mod errors;
mod expiry;
mod login_page;
mod oauth2_client;
mod oidc_client;
mod pkce_client;
mod robustness;
mod scenarios;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, PATIENCE};

pub const CLIENT: &str = "PesaSandboxEcitizenClient";
pub const SECRET: &str = "PesaSandboxEcitizenSecret";
pub const PUBLIC_CLIENT: &str = "PesaSandboxEcitizenPublicClient";
pub const CALLBACK: &str = "http://localhost:3000/callback";
/// RFC 7636 Appendix B's verifier and its S256 challenge.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A PKCE pair computed here from RFC 7636 §4.1–4.2 alone: 32 random bytes,
/// base64url without padding, and its SHA-256 in the same encoding.
pub fn pkce_pair() -> (String, String) {
    let bytes: [u8; 32] = rand::random();
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// A redirect the sandbox answered with: where to, and its query.
#[derive(Debug)]
pub struct Redirect {
    pub location: String,
    pub query: Vec<(String, String)>,
}

impl Redirect {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// What an authorization request's answer was: a redirect, or a page.
#[derive(Debug)]
pub enum Answer {
    Redirect(Redirect),
    Page { status: StatusCode, html: String },
}

impl Answer {
    pub fn redirect(self) -> Redirect {
        match self {
            Answer::Redirect(r) => r,
            Answer::Page { status, html } => panic!("expected a redirect, got {status}: {html}"),
        }
    }

    pub fn page(self) -> (StatusCode, String) {
        match self {
            Answer::Page { status, html } => (status, html),
            Answer::Redirect(r) => panic!("expected a page, got a redirect to {}", r.location),
        }
    }
}

/// The hidden and checked fields of the login page's form, as a browser
/// would submit them (the radio button that is checked, every hidden input).
pub fn form_fields(html: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    for tag in html.split('<').filter(|t| t.starts_with("input ")) {
        let attr = |name: &str| {
            let key = format!(" {name}=\"");
            let start = tag.find(&key)? + key.len();
            let end = tag[start..].find('"')? + start;
            Some(unescape(&tag[start..end]))
        };
        let kind = attr("type").unwrap_or_default();
        let (Some(name), Some(value)) = (attr("name"), attr("value")) else { continue };
        let checked = tag.contains(" checked");
        if kind == "hidden" || (kind == "radio" && checked) {
            fields.push((name, value));
        }
    }
    fields
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"").replace("&#x27;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// A client that does not follow redirects, so each hop can be checked.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).timeout(PATIENCE).build().unwrap()
}

impl TestApp {
    /// `GET /oauth/authorize` with these parameters.
    pub async fn authorize(&self, params: &[(&str, &str)]) -> Answer {
        let url = reqwest::Url::parse_with_params(&self.url("/oauth/authorize"), params).unwrap();
        answer(no_redirects().get(url).send().await.unwrap()).await
    }

    /// `POST /oauth/authorize`: the login page's form.
    pub async fn submit_login(&self, fields: &[(String, String)]) -> Answer {
        answer(no_redirects().post(self.url("/oauth/authorize")).form(fields).send().await.unwrap()).await
    }

    /// The usual parameters of the default client's authorization request,
    /// with a PKCE challenge and the given extras.
    pub fn login_params<'a>(&self, challenge: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut params = vec![
            ("client_id", CLIENT),
            ("redirect_uri", CALLBACK),
            ("response_type", "code"),
            ("scope", "openid"),
            ("state", "xyz-state"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ];
        params.extend_from_slice(extra);
        params
    }

    /// Logs `user` in without a page (`prompt=none` and `login_hint`) and
    /// returns the code.
    pub async fn code_for(&self, user: &str, challenge: &str) -> String {
        let redirect = self.authorize(&self.login_params(challenge, &[("prompt", "none"), ("login_hint", user)])).await;
        let redirect = redirect.redirect();
        assert_eq!(redirect.param("state"), Some("xyz-state"));
        redirect.param("code").unwrap_or_else(|| panic!("no code in {}", redirect.location)).to_owned()
    }

    /// `POST /oauth/access-token` with a form; status and JSON body.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let res = self.http.post(self.url("/oauth/access-token")).form(form).send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// The guide's code exchange for the default client.
    pub async fn exchange(&self, code: &str, verifier: &str) -> (StatusCode, Value) {
        let res = self.exchange_raw(code, verifier).await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// The guide's code exchange, as the raw answer (headers, or the
    /// connection's failure).
    pub async fn exchange_raw(&self, code: &str, verifier: &str) -> reqwest::Result<reqwest::Response> {
        let form = [
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", verifier),
        ];
        self.http.post(self.url("/oauth/access-token")).form(&form).send().await
    }

    /// A live access token of `user` for the default client.
    pub async fn access_token_for(&self, user: &str) -> String {
        let (verifier, challenge) = pkce_pair();
        let code = self.code_for(user, &challenge).await;
        let (status, body) = self.exchange(&code, &verifier).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// `POST /api/oauth/token/introspect` as the guide's curl does it.
    pub async fn introspect(&self, token: &str) -> (StatusCode, Value) {
        let res =
            self.http.post(self.url("/api/oauth/token/introspect")).form(&[("token", token)]).send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// `GET /api/user-info?access_token=` as integrations call it.
    pub async fn user_info(&self, token: &str) -> (StatusCode, Value) {
        let url = reqwest::Url::parse_with_params(&self.url("/api/user-info"), &[("access_token", token)]).unwrap();
        let res = self.http.get(url).send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

async fn answer(res: reqwest::Response) -> Answer {
    let status = res.status();
    if status == StatusCode::FOUND {
        let location = res.headers()[LOCATION].to_str().unwrap().to_owned();
        let url = reqwest::Url::parse(&location).unwrap();
        let query = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        return Answer::Redirect(Redirect { location, query });
    }
    Answer::Page { status, html: res.text().await.unwrap() }
}
