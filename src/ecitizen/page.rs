//! The HTML the browser sees: the login and consent page of
//! `GET /oauth/authorize`, and the error page shown when the client or its
//! redirect URI cannot be trusted.
//!
//! The login page is a plain form, no script: a radio button per test user,
//! **Proceed** and **Back** buttons posting to `POST /oauth/authorize`, and
//! the authorization request carried along in hidden fields, so the form's
//! handler checks it again and needs no session.
//! It follows the usual accessibility rules: a language, a title, one `h1`,
//! a `fieldset` with a `legend`, a `label` for every control, and real
//! buttons (Back skips the "pick a user" validation with `formnovalidate`).
//!
//! **Invariant:** every piece of text that came from a request or a world
//! file is escaped (maud escapes each interpolation); the page loads nothing
//! from anywhere else.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::error::OAuthError;
use super::world::User;

/// What the login page shows.
#[derive(Debug, Clone)]
pub(crate) struct LoginPage<'a> {
    /// Where the form posts (the authorize path, with a tenant prefix if any).
    pub action: &'a str,
    /// The client's registered "formal application name".
    pub client_name: &'a str,
    /// The scopes requested, for the consent sentence.
    pub scope: &'a str,
    /// The authorization request's parameters, posted back unchanged.
    pub hidden: Vec<(&'static str, &'a str)>,
    pub users: Vec<&'a User>,
    /// The user checked when the page opens (a `login_hint`'s, else the first).
    pub selected: Option<u64>,
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f4f6f4;color:#1b1b1b}\
main{max-width:40rem;margin:2rem auto;padding:1.5rem 2rem;background:#fff;border-radius:8px;box-shadow:0 1px 4px #0002}\
h1{font-size:1.4rem;margin-top:0}.note{font-size:.9rem;color:#444}\
fieldset{border:1px solid #ccc;border-radius:6px;padding:.5rem 1rem}\
.user{display:flex;gap:.6rem;align-items:flex-start;padding:.5rem 0;border-bottom:1px solid #eee}\
.user:last-child{border-bottom:0}.user label{flex:1}.meta{display:block;font-size:.85rem;color:#444}\
.tag{display:inline-block;font-size:.75rem;padding:0 .4rem;border-radius:3px;background:#fde8e8;color:#8a1c1c;margin-left:.3rem}\
.actions{display:flex;gap:1rem;margin-top:1.2rem}\
button{font-size:1rem;padding:.55rem 1.4rem;border-radius:5px;border:1px solid #0b6b3a;cursor:pointer}\
button.proceed{background:#0b6b3a;color:#fff}button.back{background:#fff;color:#0b6b3a}\
button:focus{outline:3px solid #f0b400;outline-offset:2px}code{background:#f0f0f0;padding:0 .2rem}";

/// The login and consent page.
pub(crate) fn login_page(page: &LoginPage<'_>) -> String {
    let selected = page.selected.or_else(|| page.users.first().map(|u| u.id));
    let body = html! {
        main {
            h1 { "Log in with eCitizen" }
            p { strong { (page.client_name) } " would like to access your eCitizen data (scope " code { (page.scope) } ")." }
            p.note { "This is the Pesa Sandbox's eCitizen login: pick a test user, no password is needed." }
            form method="post" action=(page.action) {
                @for (name, value) in &page.hidden {
                    input type="hidden" name=(name) value=(value);
                }
                fieldset {
                    legend { "Choose a test user" }
                    @if page.users.is_empty() {
                        p { "This world has no eCitizen users; add some under " code { "[[ecitizen.users]]" } "." }
                    }
                    @for user in &page.users {
                        div.user {
                            input type="radio" id={ "user-" (user.id) } name="user" value=(user.id) required
                                checked[Some(user.id) == selected];
                            label for={ "user-" (user.id) } {
                                strong { (user.display_name()) }
                                @if !user.active { span.tag { "inactive" } }
                                @if user.mobile_number.is_some() && !user.mobile_verified {
                                    span.tag { "phone not verified" }
                                }
                                span.meta {
                                    (user.account_type) " · ID " (user.id_number) " · " (user.email)
                                    @if let Some(mobile) = &user.mobile_number { " · " (mobile) }
                                }
                            }
                        }
                    }
                }
                div.actions {
                    button type="submit" class="proceed" name="decision" value="proceed" { "Proceed" }
                    button type="submit" class="back" name="decision" value="back" formnovalidate { "Back" }
                }
            }
        }
    };
    document(&format!("Log in to {} with eCitizen", page.client_name), body)
}

/// The page for an authorization request that cannot be answered by a
/// redirect: the client is unknown or the redirect URI is not registered.
pub(crate) fn error_page(error: OAuthError, diagnosis: &str) -> String {
    let body = html! {
        main {
            h1 { "This login request cannot continue" }
            p { (error.description()) }
            p { strong { "What is wrong:" } " " (diagnosis) }
            p.note {
                "Error code " code { (error.code()) } ". The application that sent you here is not told about this \
                 error, because its redirect address could not be trusted (RFC 6749 §4.1.2.1)."
            }
        }
    };
    document("eCitizen login error", body)
}

/// A whole page around `body`; the title is escaped like the rest.
fn document(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
    .into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecitizen::world::World;

    fn page_for(world: &World, hidden: Vec<(&'static str, &'static str)>) -> String {
        login_page(&LoginPage {
            action: "/oauth/authorize",
            client_name: "Boma Yangu",
            scope: "openid",
            hidden,
            users: world.users.values().collect(),
            selected: Some(2),
        })
    }

    #[test]
    fn the_login_page_lists_every_user_and_posts_both_buttons() {
        let world = World::from_overlays(&[]).unwrap();
        let html = page_for(&world, vec![("client_id", "PesaSandboxEcitizenClient"), ("state", "xyz")]);
        assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\">"));
        assert!(html.contains("<form method=\"post\" action=\"/oauth/authorize\">"));
        assert!(html.contains("<input type=\"hidden\" name=\"state\" value=\"xyz\">"));
        for user in world.users.values() {
            assert!(html.contains(&format!("id=\"user-{}\"", user.id)), "user {}", user.id);
            assert!(html.contains(&format!("<label for=\"user-{}\">", user.id)), "label for user {}", user.id);
        }
        assert!(html.contains("value=\"2\" required checked>"), "the hinted user is checked");
        assert_eq!(html.matches(" checked").count(), 1, "one user is checked");
        assert!(html.contains("name=\"decision\" value=\"proceed\">Proceed</button>"));
        assert!(html.contains("name=\"decision\" value=\"back\" formnovalidate>Back</button>"));
        assert!(html.contains("<legend>Choose a test user</legend>"));
        assert!(html.contains("inactive</span>"));
        assert!(html.contains("phone not verified</span>"));
        assert!(!html.contains("<script"));
    }

    #[test]
    fn request_text_is_escaped_everywhere() {
        let world = World::from_overlays(&[]).unwrap();
        let html = login_page(&LoginPage {
            action: "/oauth/authorize",
            client_name: "<script>alert(1)</script>",
            scope: "openid\"><img src=x>",
            hidden: vec![("state", "\"><script>x</script>"), ("nonce", "a'b&c")],
            users: world.users.values().collect(),
            selected: None,
        });
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("value=\"&quot;&gt;&lt;script&gt;x&lt;/script&gt;\""));
        assert!(html.contains("value=\"a'b&amp;c\""), "a quote of the other kind is harmless in a double-quoted value");
    }

    #[test]
    fn the_error_page_names_the_problem_and_escapes_it() {
        let html = error_page(OAuthError::InvalidRequest, "redirect_uri \"<x>\" is not registered");
        assert!(html.contains("<h1>This login request cannot continue</h1>"));
        assert!(html.contains("redirect_uri &quot;&lt;x&gt;&quot; is not registered"));
        assert!(html.contains("<code>invalid_request</code>"));
    }
}
