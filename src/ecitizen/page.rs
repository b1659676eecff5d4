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
//! file goes through [`escape`] before it reaches the page.

use std::fmt::Write;

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
    let client = escape(page.client_name);
    let mut html = String::with_capacity(4096);
    head(&mut html, &format!("Log in to {client} with eCitizen"));
    let _ = write!(
        html,
        "<main>\n<h1>Log in with eCitizen</h1>\n\
         <p><strong>{client}</strong> would like to access your eCitizen data (scope <code>{scope}</code>).</p>\n\
         <p class=\"note\">This is the Pesa Sandbox's eCitizen login: pick a test user, no password is needed.</p>\n\
         <form method=\"post\" action=\"{action}\">\n",
        scope = escape(page.scope),
        action = escape(page.action),
    );
    for (name, value) in &page.hidden {
        let _ = writeln!(html, "<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(name), escape(value));
    }
    html.push_str("<fieldset>\n<legend>Choose a test user</legend>\n");
    if page.users.is_empty() {
        html.push_str("<p>This world has no eCitizen users; add some under <code>[[ecitizen.users]]</code>.</p>\n");
    }
    let selected = page.selected.or_else(|| page.users.first().map(|u| u.id));
    for user in &page.users {
        let id = user.id;
        let checked = if Some(id) == selected { " checked" } else { "" };
        let _ = writeln!(
            html,
            "<div class=\"user\"><input type=\"radio\" id=\"user-{id}\" name=\"user\" value=\"{id}\" required{checked}>\
             <label for=\"user-{id}\"><strong>{name}</strong>{tags}\
             <span class=\"meta\">{account_type} · ID {id_number} · {email}{mobile}</span></label></div>",
            name = escape(&user.display_name()),
            tags = tags(user),
            account_type = escape(&user.account_type),
            id_number = escape(&user.id_number),
            email = escape(&user.email),
            mobile = user.mobile_number.as_deref().map(|m| format!(" · {}", escape(m))).unwrap_or_default(),
        );
    }
    html.push_str(
        "</fieldset>\n<div class=\"actions\">\
         <button type=\"submit\" class=\"proceed\" name=\"decision\" value=\"proceed\">Proceed</button>\
         <button type=\"submit\" class=\"back\" name=\"decision\" value=\"back\" formnovalidate>Back</button>\
         </div>\n</form>\n</main>\n</body>\n</html>\n",
    );
    html
}

/// The page for an authorization request that cannot be answered by a
/// redirect: the client is unknown or the redirect URI is not registered.
pub(crate) fn error_page(error: OAuthError, diagnosis: &str) -> String {
    let mut html = String::with_capacity(1024);
    head(&mut html, "eCitizen login error");
    let _ = write!(
        html,
        "<main>\n<h1>This login request cannot continue</h1>\n\
         <p>{description}</p>\n\
         <p><strong>What is wrong:</strong> {diagnosis}</p>\n\
         <p class=\"note\">Error code <code>{code}</code>. The application that sent you here is not told about \
         this error, because its redirect address could not be trusted (RFC 6749 §4.1.2.1).</p>\n\
         </main>\n</body>\n</html>\n",
        description = escape(error.description()),
        diagnosis = escape(diagnosis),
        code = escape(error.code()),
    );
    html
}

fn head(html: &mut String, title: &str) {
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
    );
}

fn tags(user: &User) -> String {
    let mut tags = String::new();
    if !user.active {
        tags.push_str("<span class=\"tag\">inactive</span>");
    }
    if user.mobile_number.is_some() && !user.mobile_verified {
        tags.push_str("<span class=\"tag\">phone not verified</span>");
    }
    tags
}

/// Escapes text for HTML element content and double- or single-quoted
/// attribute values (the five characters OWASP lists).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecitizen::world::World;
    use proptest::prelude::*;

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
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
        assert!(html.contains("<form method=\"post\" action=\"/oauth/authorize\">"));
        assert!(html.contains("<input type=\"hidden\" name=\"state\" value=\"xyz\">"));
        for user in world.users.values() {
            assert!(html.contains(&format!("id=\"user-{}\"", user.id)), "user {}", user.id);
            assert!(html.contains(&format!("<label for=\"user-{}\">", user.id)), "label for user {}", user.id);
        }
        assert!(html.contains("value=\"2\" required checked>"), "the hinted user is checked");
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
        assert!(html.contains("value=\"a&#x27;b&amp;c\""));
    }

    #[test]
    fn the_error_page_names_the_problem_and_escapes_it() {
        let html = error_page(OAuthError::InvalidRequest, "redirect_uri \"<x>\" is not registered");
        assert!(html.contains("<h1>This login request cannot continue</h1>"));
        assert!(html.contains("redirect_uri &quot;&lt;x&gt;&quot; is not registered"));
        assert!(html.contains("<code>invalid_request</code>"));
    }

    proptest! {
        #[test]
        fn escaped_text_has_no_markup_characters(text in ".{0,100}") {
            let escaped = escape(&text);
            prop_assert!(!escaped.contains(['<', '>', '"', '\'']));
        }
    }
}
