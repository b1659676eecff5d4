//! The hosted checkout page: what `format=html`, `format=iframe` and the
//! `invoice_link` show, and where a tester pays.
//!
//! The page shows the invoice (service, reference, amount, the convenience
//! fee, what is paid and what is due) and a form that sends an M-Pesa
//! prompt to a phone number for any amount up to the balance, so partial
//! payments can be made. A status area says what happened to the last
//! prompt; a small inline script polls the invoice's status and, once it
//! is settled, returns the browser to `callBackURLOnSuccess`.
//! Without scripts the page still works: the form posts, the answer is a
//! fresh page.
//!
//! **Invariant:** every value from a request or the world is escaped (maud
//! escapes each interpolation); the page loads nothing from anywhere else.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::amount;
use super::invoice::{Invoice, InvoiceStatus};

/// What the status area says about the last thing that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notice {
    /// A prompt is on the customer's phone.
    PromptSent { msisdn: String },
    /// A payment was recorded.
    Paid { reference: String },
    /// The prompt failed: cancelled, timed out, insufficient funds; the
    /// scenario's description.
    Failed { reason: String },
    /// The form was filled in wrongly.
    Invalid { reason: String },
}

/// Everything the page shows; URLs are the handler's.
#[derive(Debug, Clone)]
pub(crate) struct CheckoutPage<'a> {
    pub(crate) invoice: &'a Invoice,
    pub(crate) service_name: &'a str,
    /// Where the prompt form posts (`phone`, `amount`, `request_id`).
    pub(crate) prompt_url: &'a str,
    /// A JSON status of this invoice the script polls.
    pub(crate) status_url: &'a str,
    pub(crate) notice: Option<Notice>,
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;background:#f3f5f7;margin:0;color:#1d2733}
main{max-width:28rem;margin:2rem auto;background:#fff;border-radius:.5rem;box-shadow:0 1px 4px #0002;overflow:hidden}
header{background:#006b3f;color:#fff;padding:1rem 1.25rem}
header h1{font-size:1.1rem;margin:0}header p{margin:.25rem 0 0;font-size:.85rem;opacity:.85}
section{padding:1rem 1.25rem}
table{width:100%;border-collapse:collapse;font-size:.95rem}
th{text-align:left;font-weight:normal;color:#5a6775;padding:.3rem 0}td{text-align:right;padding:.3rem 0}
tr.due td,tr.due th{font-weight:bold;color:#1d2733;border-top:1px solid #dde3e8;padding-top:.6rem}
label{display:block;font-size:.85rem;color:#5a6775;margin-top:.75rem}
input{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #c3ccd4;border-radius:.3rem}
button{margin-top:1rem;width:100%;padding:.75rem;font-size:1rem;background:#006b3f;color:#fff;border:0;border-radius:.3rem;cursor:pointer}
#status{margin:0 1.25rem 1.25rem;padding:.75rem;border-radius:.3rem;background:#eef2f5;font-size:.9rem}
#status.settled{background:#e3f4ea}#status.error{background:#fbe9e9}
footer{font-size:.75rem;color:#8593a0;text-align:center;padding:0 1rem 1rem}
";

/// Polls the status URL and updates the status area with text only; once
/// the invoice is settled, leaves for the merchant's success URL if any.
const SCRIPT: &str = r#"
(function(){
  var body=document.body, box=document.getElementById('status');
  var url=body.dataset.statusUrl, back=body.dataset.successUrl;
  if(!url||!window.fetch){return;}
  function tick(){
    fetch(url,{headers:{'accept':'application/json'}}).then(function(r){return r.json();}).then(function(s){
      if(!s||!s.status){return;}
      box.dataset.state=s.status;
      box.className=s.status==='settled'?'settled':'';
      box.querySelector('.state').textContent='Invoice '+s.status+': '+s.amount_paid+' of '+s.amount_expected+' paid.';
      if(s.status==='settled'){
        var form=document.getElementById('prompt'); if(form){form.remove();}
        if(back){setTimeout(function(){window.location.assign(back);},2000);}
        return;
      }
      setTimeout(tick,2000);
    }).catch(function(){setTimeout(tick,5000);});
  }
  setTimeout(tick,2000);
})();
"#;

/// The page, as a complete HTML document.
pub(crate) fn render(page: &CheckoutPage<'_>) -> String {
    let invoice = page.invoice;
    let d = &invoice.details;
    let currency = d.currency.as_str();
    let money = |m| format!("{currency} {}", amount::two_decimals(m));
    let status = invoice.status();
    let settled = status == InvoiceStatus::Settled;
    let success_url = d.callback_url_on_success.as_deref().unwrap_or("");
    let phone = d.client_msisdn.as_deref().and_then(super::wire::normalise_msisdn).unwrap_or_default();
    let (notice_class, notice_text) = match &page.notice {
        None => ("", String::new()),
        Some(Notice::PromptSent { msisdn }) => {
            ("", format!("An M-Pesa prompt was sent to {msisdn}. Enter the M-Pesa PIN on the phone to pay."))
        }
        Some(Notice::Paid { reference }) => ("settled", format!("Payment {reference} received. Thank you.")),
        Some(Notice::Failed { reason }) => ("error", format!("The payment did not go through: {reason}")),
        Some(Notice::Invalid { reason }) => ("error", reason.clone()),
    };
    let status_class = if settled { "settled" } else { notice_class };

    let markup: Markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if settled && !success_url.is_empty() {
                    meta http-equiv="refresh" content={ "3;url=" (success_url) };
                }
                title { "Pay " (invoice.number) " · " (page.service_name) }
                style { (PreEscaped(STYLE)) }
            }
            body data-status-url=(page.status_url) data-success-url=(success_url) {
                main {
                    header {
                        h1 { (page.service_name) }
                        p { "eCitizen payment · invoice " strong { (invoice.number) } }
                    }
                    section {
                        table {
                            tr { th { "Reference" } td { (d.client_invoice_ref) } }
                            tr { th { "Description" } td { (d.bill_desc) } }
                            tr { th { "Billed to" } td { (d.client_name) } }
                            tr { th { "Amount" } td { (money(d.amount_net)) } }
                            tr { th { "Convenience fee" } td { (money(d.commission)) } }
                            tr { th { "Total" } td { (money(invoice.amount_expected)) } }
                            tr { th { "Paid" } td { (money(invoice.amount_paid())) } }
                            tr.due { th { "Amount due" } td { (money(invoice.balance())) } }
                        }
                    }
                    @if !settled {
                        section {
                            form #prompt method="post" action=(page.prompt_url) {
                                input type="hidden" name="request_id" value=(invoice.request_id);
                                label for="phone" { "M-Pesa phone number" }
                                input #phone type="tel" name="phone" required placeholder="2547XXXXXXXX" value=(phone);
                                label for="amount" { "Amount to pay (" (currency) "), up to the amount due" }
                                input #amount type="number" name="amount" required min="1" step="any"
                                    max=(amount::shortest(invoice.balance())) value=(amount::shortest(invoice.balance()));
                                button type="submit" { "Send M-Pesa prompt" }
                            }
                        }
                    }
                    div #status role="status" aria-live="polite" class=(status_class) data-state=(status.as_str()) {
                        p.state { "Invoice " (status.as_str()) ": " (amount::two_decimals(invoice.amount_paid())) " of "
                            (amount::two_decimals(invoice.amount_expected)) " paid." }
                        @if !notice_text.is_empty() { p { (notice_text) } }
                        @if settled && !success_url.is_empty() {
                            p { a href=(success_url) { "Return to the merchant" } }
                        }
                    }
                    footer { "pesa-sandbox · a local fake of Pesaflow; no real money moves" }
                }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    };
    markup.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Money;
    use crate::pesaflow::invoice::tests::{at, invoice_with, new_invoice};
    use crate::pesaflow::invoice::{Channel, Payment};

    fn page(invoice: &Invoice, notice: Option<Notice>) -> String {
        render(&CheckoutPage {
            invoice,
            service_name: "Business Name Search",
            prompt_url: "/checkout/prompt",
            status_url: "/checkout/status?request_id=d8HbuZT_0nO3XLjH7nRy",
            notice,
        })
    }

    #[test]
    fn the_page_shows_the_invoice_and_a_prompt_form_for_the_balance() {
        let invoice = invoice_with("GWLQKD", new_invoice("TEST-1", 10000, 500), Vec::new());
        let html = page(&invoice, None);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("GWLQKD") && html.contains("TEST-1"));
        assert!(html.contains("KES 105.00") && html.contains("KES 5.00"));
        assert!(html.contains(r#"action="/checkout/prompt""#));
        assert!(html.contains(r#"name="phone" required placeholder="2547XXXXXXXX" value="254712345678""#), "{html}");
        assert!(html.contains(r#"max="105" value="105""#), "{html}");
        assert!(html.contains(r#"data-state="pending""#));
    }

    #[test]
    fn request_values_are_escaped() {
        let mut details = new_invoice("<script>alert(1)</script>", 100, 0);
        details.client_name = "\"><img src=x onerror=alert(1)>".into();
        details.callback_url_on_success = Some("https://shop.example/ok?a=1&b=\"2\"".into());
        let invoice = invoice_with("GWLQKD", details, Vec::new());
        let html = page(&invoice, Some(Notice::Failed { reason: "<b>Request cancelled by user</b>".into() }));
        assert!(!html.contains("<script>alert") && !html.contains("<img") && !html.contains("<b>Request"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("data-success-url=\"https://shop.example/ok?a=1&amp;b=&quot;2&quot;\""), "{html}");
    }

    #[test]
    fn a_settled_invoice_has_no_form_and_returns_to_the_merchant() {
        let mut details = new_invoice("TEST-1", 500, 0);
        details.callback_url_on_success = Some("https://shop.example/ok".into());
        let payment = Payment {
            reference: "TET6QMYYAK".into(),
            channel: Channel::Mpesa,
            amount: Money(500),
            paid_at: at(1),
            payer: None,
            payer_name: None,
        };
        let invoice = invoice_with("GWLQKD", details, vec![payment]);
        let html = page(&invoice, Some(Notice::Paid { reference: "TET6QMYYAK".into() }));
        assert!(!html.contains("<form"));
        assert!(html.contains(r#"content="3;url=https://shop.example/ok""#));
        assert!(html.contains("Payment TET6QMYYAK received"));
        assert!(html.contains(r#"class="settled" data-state="settled""#), "{html}");
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        let invoice = invoice_with("GWLQKD", new_invoice("TEST-1", 100, 0), Vec::new());
        let html = page(&invoice, Some(Notice::PromptSent { msisdn: "254712345678".into() }));
        assert!(!html.contains("<link") && !html.contains(" src=") && !html.contains("@import"));
        assert!(html.contains("An M-Pesa prompt was sent to 254712345678"));
    }
}
