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
