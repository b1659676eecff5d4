//! Stopping an embedded sandbox.

use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::spawn_virtual;

#[tokio::test]
async fn shutdown_reports_pending_events_and_frees_the_port() {
    let app = spawn_virtual(crate::helpers::FAST_WORLD).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&app.receiver).await;
    let (_, _) = app.stk_push(&app.stk_body("254708374149", 1)).await;
    let addr = app.sandbox.addr();
    let report = app.sandbox.shutdown().await;
    assert_eq!(report.pending_events, 1, "the unsettled push is reported");
    assert!(!report.grace_exceeded);
    // The port is free again: nothing is listening any more.
    let refused = tokio::net::TcpStream::connect(addr).await;
    assert!(refused.is_err(), "the listener is closed");
}
