//! The `pesa-sandbox` binary as a newcomer runs it: it starts with the
//! embedded default world, prints where it listens, serves a client, and
//! stops cleanly (exit 0) on SIGTERM or SIGINT. Also its helper commands.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pesa-sandbox");

/// Starts the binary on a free port and returns it with its base URL.
fn start(extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--seed", "5"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a banner line").unwrap();
    let base = first.rsplit(' ').next().unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{first}");
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, base)
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the sandbox did not stop in time");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

#[test]
fn the_binary_serves_the_default_world_and_stops_cleanly_on_sigterm_and_sigint() {
    for sig in ["TERM", "INT"] {
        let (mut child, base) = start(&[]);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let token = runtime.block_on(async {
            let http = reqwest::Client::builder().no_proxy().build().unwrap();
            let res = http
                .get(format!("{base}/oauth/v1/generate?grant_type=client_credentials"))
                .basic_auth("PesaSandboxConsumerKey", Some("PesaSandboxConsumerSecret"))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.json::<serde_json::Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
        });
        assert_eq!(token.len(), 28);
        signal(&child, sig);
        let status = wait_exit(&mut child, Duration::from_secs(10));
        assert!(status.success(), "SIG{sig}: {status:?}");
    }
}

#[test]
fn beyond_loopback_the_admin_api_gets_a_printed_token() {
    let mut child = Command::new(BIN)
        .args(["--listen", "0.0.0.0:0", "--seed", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let banner: Vec<String> = BufReader::new(stdout).lines().take(7).map(|l| l.unwrap()).collect();
    signal(&child, "TERM");
    wait_exit(&mut child, Duration::from_secs(10));
    assert!(banner.iter().any(|l| l.contains("admin token:")), "{banner:?}");
}

#[test]
fn the_helper_commands_print_what_tests_in_any_language_need() {
    let out = Command::new(BIN).arg("keys").output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), pesa_sandbox::daraja::keys::CERTIFICATE_PEM);

    let out = Command::new(BIN).args(["daraja", "password", "--timestamp", "20160216165627"]).output().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMTYwMjE2MTY1NjI3"
    );

    let out = Command::new(BIN).args(["daraja", "credential", "--password", "Safaricom999!*!"]).output().unwrap();
    let credential = String::from_utf8(out.stdout).unwrap();
    let pair = pesa_sandbox::daraja::keys::pair().unwrap();
    let plain = pesa_sandbox::crypto::credential::decrypt(&pair.private, credential.trim()).unwrap();
    assert_eq!(plain, b"Safaricom999!*!");

    let out = Command::new(BIN)
        .args(["ecitizen", "pkce", "--verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk\n\
         code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\n\
         code_challenge_method=S256\n",
        "RFC 7636 Appendix B"
    );
    let out = Command::new(BIN).args(["ecitizen", "pkce"]).output().unwrap();
    let fresh = String::from_utf8(out.stdout).unwrap();
    let verifier = fresh.lines().next().unwrap().trim_start_matches("code_verifier=");
    let pair = pesa_sandbox::crypto::pkce::PkcePair::from_verifier(verifier).expect("a valid verifier");
    assert!(fresh.contains(&format!("code_challenge={}\n", pair.challenge)));
    let out = Command::new(BIN).args(["ecitizen", "pkce", "--verifier", "short"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("--verifier"));

    let out = Command::new(BIN).args(["daraja", "password", "--timestamp", "yesterday"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a bad argument exits 2 with a message");
    assert!(String::from_utf8(out.stderr).unwrap().contains("Timestamp"));

    let out = Command::new(BIN).args(["--world", "/nonexistent/world.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("cannot read world file /nonexistent/world.toml"));
}

#[test]
fn the_pesaflow_hash_command_computes_every_recipe_as_the_notes_work_them() {
    let hash = |args: &[&str]| {
        let out = Command::new(BIN).args(["pesaflow", "hash"]).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (String::from_utf8(out.stdout).unwrap().trim().to_owned(), String::from_utf8(out.stderr).unwrap())
    };
    let (checkout, explained) =
        hash(&["checkout", "1", "100.00", "1001", "12345678", "KES", "REF-1", "Business name search", "Jane Doe"]);
    assert_eq!(checkout, "MDE3ZDNiODI2MmMyZDVjZDgzOGFmYjdjNzg0MGNmOGUyZmU0ZTAxNmNkNjQ4YzY2MDE1MTdlZjA2MjlmMDcwZg==");
    assert!(explained.contains(r#""1" + "100.00" + "1001""#) && explained.contains("<secret>"), "{explained}");
    assert!(!explained.contains("PesaflowSandboxSecret"), "the secret is never printed");
    assert_eq!(
        hash(&["status", "1", "GWLQKD"]).0,
        "NzNhNGJjYjZlY2JiNTUyM2U4MjI0MDlhZWJlZWM1NWNiNDQ1ODhkZDE2MWQ3OTQ5YWE3ZTBiZmVjMGUzNDE1Mw=="
    );
    assert_eq!(
        hash(&["ussd", "12345678", "1002"]).0,
        "MjM1NmQ2Njg5NmQ5MzllZGNkOWVmMTI0ODZjZTYxMmMwYzAwNDg1MmM0Yzg0ZDUwZmUyNThiMDEwZTViOGYwOQ=="
    );
    let sdk = ["checkout", "--key", "KEY1", "--secret", "SECRET1", "--encoding", "hex"];
    let values = ["CLIENT1", "500.00", "SERVICE1", "12345678", "KES", "INV-0001", "School fees", "Jane Doe"];
    let args: Vec<&str> = sdk.iter().chain(values.iter()).copied().collect();
    assert_eq!(hash(&args).0, "b12eb1bc37380f86ebf4156063606b6eccc849a6a9afe896dc65de3c677d102c");

    let out = Command::new(BIN).args(["pesaflow", "hash", "status", "1"]).output().unwrap();
    assert!(!out.status.success(), "a wrong number of values is refused");
    assert!(String::from_utf8(out.stderr).unwrap().contains("the status recipe hashes 2 fields"));
    let out = Command::new(BIN).args(["pesaflow", "hash", "checkin", "1"]).output().unwrap();
    assert!(String::from_utf8(out.stderr).unwrap().contains("is not one of checkout, validate"));
}

#[test]
fn scenarios_and_a_virtual_clock_load_from_the_command_line() {
    let dir = std::env::temp_dir().join(format!("pesa-sandbox-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("slow.toml");
    std::fs::write(&file, "name = \"slow\"\n[[rules]]\nwhen = { operation = \"stk_push\" }\noutcome = { result_code = 0, after_ms = 9000 }\n").unwrap();
    let scenarios = format!("user-cancels,{}", file.display());
    let (mut child, base) =
        start(&["--scenarios", &scenarios, "--clock", "virtual", "--clock-start", "2030-01-31T09:00:00+03:00"]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (loaded, clock) = runtime.block_on(async {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let loaded: serde_json::Value =
            http.get(format!("{base}/__sandbox/scenarios")).send().await.unwrap().json().await.unwrap();
        let clock: serde_json::Value =
            http.get(format!("{base}/__sandbox/clock")).send().await.unwrap().json().await.unwrap();
        (loaded, clock)
    });
    signal(&child, "TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(10)).success());
    let _ = std::fs::remove_dir_all(&dir);
    let names: Vec<&str> =
        loaded["scenarios"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["user-cancels", "slow"]);
    assert_eq!(clock["mode"], "virtual");
    assert_eq!(clock["now"], "2030-01-31T06:00:00Z");

    let out = Command::new(BIN).args(["--scenarios", "no-such-scenario"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "an unknown scenario stops the start");
    assert!(String::from_utf8(out.stderr).unwrap().contains("no-such-scenario"));
}

/// Starts the binary with stderr captured; returns it, its base URL and a
/// handle that yields everything it wrote on stderr once it exits.
fn start_capturing(extra: &[&str], envs: &[(&str, &str)]) -> (Child, String, std::thread::JoinHandle<String>) {
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--seed", "5"])
        .args(extra)
        .env("RUST_LOG", "info")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut text);
        text
    });
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a banner line").unwrap();
    let base = first.rsplit(' ').next().unwrap().to_owned();
    std::thread::spawn(move || for _ in lines {});
    (child, base, errors)
}

/// Pushes `count` M-Pesa Express payments to the binary's default tenant,
/// each calling back to `callback`; returns their CheckoutRequestIDs.
async fn push_payments(base: &str, count: usize, callback: &str) -> Vec<String> {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let token: serde_json::Value = http
        .get(format!("{base}/oauth/v1/generate?grant_type=client_credentials"))
        .basic_auth("PesaSandboxConsumerKey", Some("PesaSandboxConsumerSecret"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let passkey = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";
    let mut ids = Vec::new();
    for i in 0..count {
        let eat = (chrono::Utc::now() + chrono::Duration::hours(3)).naive_utc();
        let timestamp = pesa_sandbox::crypto::lnm::format_timestamp(eat);
        let msisdn = format!("2547150{i:05}");
        let body = serde_json::json!({
            "BusinessShortCode": "174379",
            "Password": pesa_sandbox::crypto::lnm::password("174379", passkey, &timestamp),
            "Timestamp": timestamp, "TransactionType": "CustomerPayBillOnline", "Amount": 1,
            "PartyA": msisdn, "PartyB": "174379", "PhoneNumber": msisdn, "CallBackURL": callback,
            "AccountReference": "SHUTDOWN", "TransactionDesc": "Shutdown",
        });
        let res = http
            .post(format!("{base}/mpesa/stkpush/v1/processrequest"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let ack: serde_json::Value = res.json().await.unwrap();
        ids.push(ack["CheckoutRequestID"].as_str().unwrap().to_owned());
    }
    ids
}

#[test]
fn acknowledged_pushes_are_called_back_before_the_binary_stops() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(async {
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .respond_with(wiremock::ResponseTemplate::new(200))
            .mount(&server)
            .await;
        server
    });
    // The customers answer after a second: at SIGTERM no callback is due yet.
    let (mut child, base, errors) = start_capturing(&["--shutdown-grace-ms", "8000"], &[]);
    runtime.block_on(push_payments(&base, 50, &format!("{}/stk", receiver.uri())));
    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(20));
    let errors = errors.join().unwrap();
    assert!(status.success(), "{status:?}\n{errors}");
    assert!(errors.contains("every due callback was delivered"), "{errors}");
    let received = runtime.block_on(receiver.received_requests()).unwrap();
    assert_eq!(received.len(), 50, "every acknowledged push was called back");
}

#[test]
fn a_callback_abandoned_at_shutdown_is_listed_and_the_exit_status_says_so() {
    // A receiver that takes the request and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/never-answers", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let (mut child, base, errors) =
        start_capturing(&["--shutdown-grace-ms", "300", "--callback-timeout-ms", "60000"], &[]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ids = runtime.block_on(async {
        let ids = push_payments(&base, 1, &url).await;
        // Wait until the callback is in flight (the prompt is answered after a second).
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let health: serde_json::Value =
                http.get(format!("{base}/__sandbox/health")).send().await.unwrap().json().await.unwrap();
            if health["callbacks"]["in_flight"] == 1 {
                break;
            }
            assert!(Instant::now() < deadline, "the callback never went out: {health}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        ids
    });
    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(10));
    let errors = errors.join().unwrap();
    assert_eq!(status.code(), Some(3), "{errors}");
    let listed = errors.lines().find(|l| l.contains("abandoned (in_flight)")).unwrap_or_else(|| panic!("{errors}"));
    assert!(listed.contains("tenant default") && listed.contains(&ids[0]) && listed.contains(&url), "{listed}");
}

#[test]
fn text_logs_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let (mut child, _base, errors) = start_capturing(&[], &[]);
    signal(&child, "TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(10)).success());
    let errors = errors.join().unwrap();
    assert!(errors.contains("sandbox listening"), "{errors}");
    assert!(!errors.contains('\u{1b}'), "an escape code in: {errors:?}");
}

#[test]
fn an_empty_admin_token_stops_the_start() {
    for (args, envs) in
        [(vec!["--admin-token="], vec![]), (vec!["--listen", "0.0.0.0:0"], vec![("PESA_SANDBOX_ADMIN_TOKEN", " ")])]
    {
        let out = Command::new(BIN).args(&args).envs(envs.iter().copied()).output().unwrap();
        let errors = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?} {envs:?}: {errors}");
        assert!(errors.contains("admin token"), "{errors}");
        assert!(out.stdout.is_empty(), "no banner (and no blank token) was printed");
    }
}

#[test]
fn hostile_numbers_in_world_and_scenario_files_stop_the_start_with_a_message() {
    let dir = std::env::temp_dir().join(format!("pesa-sandbox-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        ("world.toml", "[daraja]\ntoken_ttl_secs = 9223372036854775807\n", "--world", "daraja.token_ttl_secs"),
        (
            "initiators.toml",
            "[[initiators]]\nname = \"x\"\npassword = \"p\"\npassword_age_days = 4294967295\n",
            "--world",
            "password_age_days",
        ),
        (
            "scenario.toml",
            "[[rules]]\nwhen = { operation = \"stk_push\" }\ncallback = { delay_ms = 9223372036854775807 }\n",
            "--scenarios",
            "callback.delay_ms",
        ),
        (
            "spacing.toml",
            "[[rules]]\ncallback = { duplicates = 2, duplicate_spacing_ms = 9223372036854775807 }\n",
            "--scenarios",
            "callback.duplicate_spacing_ms",
        ),
    ];
    for (name, text, flag, field) in cases {
        let file = dir.join(name);
        std::fs::write(&file, text).unwrap();
        let out = Command::new(BIN).args(["--listen", "127.0.0.1:0", flag]).arg(&file).output().unwrap();
        let errors = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name} exits 2 (not a panic's 101): {errors}");
        assert!(errors.contains(field) && errors.contains("out of range"), "{name}: {errors}");
        assert!(!errors.contains("panicked"), "{errors}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_vodafone_portal_ports_serve_https_to_a_client_that_trusts_the_test_ca() {
    let (mut child, base) = start(&["--tls", "--vodafone-ports"]);
    let helper = |args: &[&str]| {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let ca = helper(&["tls-ca"]);
    let bearer = helper(&["vodafone", "bearer", "--api-key", "aaaab09uz9f3asdcjyk7els777ihmwv8"]);
    assert!(pesa_sandbox::crypto::spki::from_base64(&helper(&["keys", "--vodafone"])).is_ok(), "one line of SPKI");
    assert!(helper(&["keys", "--vodafone", "--pem"]).starts_with("-----BEGIN PUBLIC KEY-----"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let statuses = runtime.block_on(async {
        let portal = "127.0.0.1:18352".parse().unwrap();
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
            .resolve("localhost", portal)
            .no_proxy()
            .build()
            .unwrap();
        // What a portal SDK does: only the host is configurable; port and TLS are fixed.
        let paid = http
            .post("https://localhost:18352/ipg/v1x/c2bPayment/singleStage/")
            .header("Authorization", format!("Bearer {}", bearer.trim()))
            .header("Origin", "*")
            .json(&serde_json::json!({"input_TransactionReference": "T12344C", "input_CustomerMSISDN": "258843330333",
                "input_Amount": "10", "input_ThirdPartyReference": "111PA2D", "input_ServiceProviderCode": "171717"}))
            .send()
            .await
            .unwrap()
            .status();
        let plain = reqwest::get(format!("{base}/__sandbox/health")).await.unwrap().status();
        (paid, plain)
    });
    signal(&child, "TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(10)).success());
    assert_eq!(statuses.0.as_u16(), 201);
    assert_eq!(statuses.1.as_u16(), 200);
}
