//! Replays every committed fuzz input on the stable toolchain, without libFuzzer.
//!
//! For each target in `fuzz/fuzz_targets/`, every seed in
//! `fuzz/corpus/fuzz_<name>/` and every past crash in
//! `fuzz/regressions/fuzz_<name>/` is passed to the same
//! `pesa_sandbox::fuzzing::<name>` function the fuzz target calls, so a
//! crash the fuzzer once found stays fixed.
//! Hidden files (`.name`) are skipped: git ignores them in the corpus, so they
//! are never part of what is committed.

use std::fs;
use std::path::{Path, PathBuf};

use pesa_sandbox::fuzzing;

/// The committed input files of one fuzz target in `dir`, sorted by name;
/// an absent directory has none.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())).path())
        .filter(|path| path.is_file())
        .filter(|path| !path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')))
        .collect();
    files.sort();
    files
}

/// Passes every corpus and regression file of `fuzz_<name>` to `target`, and
/// checks that the corpus was not empty.
fn replay(name: &str, target: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let corpus = inputs(&fuzz.join("corpus").join(format!("fuzz_{name}")));
    let regressions = inputs(&fuzz.join("regressions").join(format!("fuzz_{name}")));
    assert!(!corpus.is_empty(), "fuzz/corpus/fuzz_{name}/ has no seed inputs");
    for path in corpus.iter().chain(&regressions) {
        let data = fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        // A panic inside the target fails the test; name the input first so it can be found.
        eprintln!("replaying {}", path.display());
        target(&data);
    }
}

#[test]
fn every_committed_stk_push_input_is_handled_without_panicking() {
    replay("daraja_stk_push", fuzzing::daraja_stk_push);
}

#[test]
fn every_committed_authorization_header_is_handled_without_panicking() {
    replay("auth_header", fuzzing::auth_header);
}

#[test]
fn every_committed_lnm_password_input_is_handled_without_panicking() {
    replay("lnm_password", fuzzing::lnm_password);
}

#[test]
fn every_committed_amount_is_handled_without_panicking() {
    replay("money", fuzzing::money);
}

#[test]
fn every_committed_fields_body_is_handled_without_panicking() {
    replay("fields", fuzzing::fields);
}

#[test]
fn every_committed_security_credential_is_handled_without_panicking() {
    replay("security_credential", fuzzing::security_credential);
}

#[test]
fn every_committed_world_document_is_handled_without_panicking() {
    replay("world_document", fuzzing::world_document);
}

#[test]
fn every_committed_scenario_input_is_handled_without_panicking() {
    replay("scenario_decision", fuzzing::scenario_decision);
}

#[test]
fn every_committed_callback_answer_is_read_without_panicking() {
    replay("callback_answer", fuzzing::callback_answer);
}

/// Seeds only help the fuzzer if they reach past the first check; these are
/// the ones that must be accepted in full.
#[test]
fn the_valid_seeds_are_accepted_by_the_library() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("corpus");
    let read = |path: &str| fs::read(corpus.join(path)).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));

    let push = fuzzing::accepted_stk_push(&read("fuzz_daraja_stk_push/push-paybill-documented-password.json"))
        .expect("the STK push seed parses");
    assert_eq!(push, "174379");

    let header = read("fuzz_auth_header/basic-default-app");
    let (key, secret) = fuzzing::basic_credentials(&header).expect("the Basic seed decodes");
    assert_eq!((key.as_str(), secret.as_str()), ("PesaSandboxConsumerKey", "PesaSandboxConsumerSecret"));

    let lnm = String::from_utf8(read("fuzz_lnm_password/documented-password")).expect("the LNM seed is text");
    let parts: Vec<&str> = lnm.split(fuzzing::LNM_SEPARATOR).collect();
    assert_eq!(parts.len(), 4, "the LNM seed has four parts");
    assert_eq!(pesa_sandbox::crypto::lnm::check_password(parts[0], parts[1], parts[2], parts[3]), Ok(()));

    let credential = String::from_utf8(read("fuzz_security_credential/testapi-password")).expect("text");
    let keys = pesa_sandbox::daraja::keys::pair().expect("the committed keys load");
    let password = pesa_sandbox::crypto::credential::decrypt(&keys.private, &credential).expect("the seed decrypts");
    assert_eq!(password, b"Safaricom999!*!");

    let world = read("fuzz_world_document/default-world.toml");
    fuzzing::resolved_world(&world).expect("the world seed parses and resolves");

    for seed in ["guide-curl-form", "basic-auth"] {
        let form = read(&format!("fuzz_ecitizen_token_form/{seed}"));
        let client = fuzzing::accepted_ecitizen_token_form(&form);
        assert_eq!(client.as_deref(), Some("PesaSandboxEcitizenClient"), "the {seed} seed exchanges its code");
    }
    let id_token = read("fuzz_ecitizen_bearer/sandbox-id-token");
    assert!(fuzzing::verified_ecitizen_id_token(&id_token), "the ID-token seed verifies with the committed key");
}

#[test]
fn every_committed_ecitizen_authorization_request_is_handled_without_panicking() {
    replay("ecitizen_authorize", fuzzing::ecitizen_authorize);
}

#[test]
fn every_committed_ecitizen_token_form_is_handled_without_panicking() {
    replay("ecitizen_token_form", fuzzing::ecitizen_token_form);
}

#[test]
fn every_committed_ecitizen_bearer_input_is_handled_without_panicking() {
    replay("ecitizen_bearer", fuzzing::ecitizen_bearer);
}

#[test]
fn every_committed_result_api_body_is_handled_without_panicking() {
    replay("daraja_result_request", fuzzing::daraja_result_request);
}

#[test]
fn every_committed_callback_security_input_is_handled_without_panicking() {
    replay("callback_security", fuzzing::callback_security);
}

#[test]
fn every_committed_hostile_world_is_handled_without_panicking() {
    replay("world_numbers", fuzzing::world_numbers);
}

#[test]
fn every_committed_hostile_scenario_is_handled_without_panicking() {
    replay("scenario_numbers", fuzzing::scenario_numbers);
}

#[test]
fn every_committed_admin_body_is_handled_without_panicking() {
    replay("admin_body", fuzzing::admin_body);
}

/// The hostile-number seeds reach both sides of the range checks: the sane
/// ones are accepted in full, the hostile ones refused with the field named.
#[test]
fn the_hostile_number_seeds_reach_past_the_parsers() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("corpus");
    let read = |path: &str| fs::read(corpus.join(path)).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));

    let world = fuzzing::world_numbers_text(&read("fuzz_world_numbers/sane-world"));
    fuzzing::resolved_world(world.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{world}"));
    let world = fuzzing::world_numbers_text(&read("fuzz_world_numbers/one-past-each-bound"));
    let err = fuzzing::resolved_world(world.as_bytes()).expect_err("past the bounds");
    assert!(err.contains("out of range") || err.contains("must be an amount"), "{err}");

    let scenario = fuzzing::scenario_numbers_text(&read("fuzz_scenario_numbers/sane-scenario"));
    fuzzing::parsed_scenario(&scenario).unwrap_or_else(|e| panic!("{e}\n{scenario}"));
    let scenario = fuzzing::scenario_numbers_text(&read("fuzz_scenario_numbers/a-day-everywhere"));
    fuzzing::parsed_scenario(&scenario).unwrap_or_else(|e| panic!("a day is the bound: {e}\n{scenario}"));
    let scenario = fuzzing::scenario_numbers_text(&read("fuzz_scenario_numbers/one-past-each-bound"));
    let err = fuzzing::parsed_scenario(&scenario).expect_err("past the bounds");
    assert!(err.contains("out of range"), "{err}");
}

#[test]
fn every_committed_vodafone_bearer_input_is_handled_without_panicking() {
    replay("vodafone_bearer", fuzzing::vodafone_bearer);
}

#[test]
fn every_committed_vodafone_portal_request_input_is_handled_without_panicking() {
    replay("vodafone_portal_request", fuzzing::vodafone_portal_request);
}

#[test]
fn every_committed_vodafone_openapi_request_input_is_handled_without_panicking() {
    replay("vodafone_openapi_request", fuzzing::vodafone_openapi_request);
}

#[test]
fn every_committed_vodafone_acknowledgement_input_is_handled_without_panicking() {
    replay("vodafone_acknowledgement", fuzzing::vodafone_acknowledgement);
}

#[test]
fn every_committed_pesaflow_body_is_handled_without_panicking() {
    replay("pesaflow_form", fuzzing::pesaflow_form);
}

#[test]
fn every_committed_pesaflow_hash_input_is_handled_without_panicking() {
    replay("pesaflow_secure_hash", fuzzing::pesaflow_secure_hash);
}

/// The Pesaflow seeds reach past the first check: checkouts parse in full,
/// and the hash seeds are real vectors (the integration notes' worked
/// examples and the SDKs' golden vectors).
#[test]
fn the_pesaflow_seeds_are_accepted_by_the_library() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("corpus");
    let read = |path: &str| fs::read(corpus.join(path)).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    for (seed, bill_ref) in [("checkout-live-form.txt", "REF-1"), ("checkout-json-variants.json", "TEST-1")] {
        let accepted = fuzzing::accepted_pesaflow_checkout(&read(&format!("fuzz_pesaflow_form/{seed}")));
        assert_eq!(accepted.as_deref(), Some(bill_ref), "{seed}");
    }
    for seed in [
        "checkout-worked-example.bin",
        "status-worked-example.bin",
        "notification-sdk-vector.bin",
        "checkout-hex-sdk-vector.bin",
    ] {
        assert!(fuzzing::pesaflow_hash_matches(&read(&format!("fuzz_pesaflow_secure_hash/{seed}"))), "{seed}");
    }
}
