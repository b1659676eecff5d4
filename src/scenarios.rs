//! What happens to a request once it is accepted: the sandbox's decisions.
//!
//! For now this is the built-in table of test MSISDNs for M-Pesa Express:
//! `25471100` followed by a four-digit result code makes the simulated
//! customer produce that result; every other number pays after the world's
//! answer delay.
//! Decisions are data ([`StkDecision`]), never errors: a cancelled payment is
//! an accepted request followed by a failure callback.
//! Scenario files (issue 02) replace this table with rules; callers already
//! go through [`decide_stk`] only.

/// The facts a decision may look at.
#[derive(Debug, Clone)]
pub struct StkFacts<'a> {
    pub msisdn: &'a str,
    pub shortcode: &'a str,
    pub amount_cents: i64,
    pub account_reference: &'a str,
}

/// When the simulated customer's answer arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// After the world's answer delay (the customer acts).
    Answer,
    /// After the world's prompt timeout (nobody acts).
    Timeout,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StkDecision {
    /// The M-Pesa result code the customer's answer produces (0 is success).
    pub result_code: u32,
    pub timing: Timing,
    /// Which rule decided, in words (shown with the transaction).
    pub reason: String,
}

/// Test MSISDNs and the result codes they produce. The prefix is followed by
/// the result code in four digits.
pub const TEST_MSISDN_PREFIX: &str = "25471100";

/// Result codes the table knows (anything else under the prefix succeeds).
pub const TABLE_CODES: &[u32] = &[1, 2, 3, 4, 8, 17, 26, 1001, 1019, 1025, 1032, 1037, 2001, 2028, 8006, 9999];

pub fn decide_stk(facts: &StkFacts<'_>) -> StkDecision {
    let code = facts
        .msisdn
        .strip_prefix(TEST_MSISDN_PREFIX)
        .filter(|rest| rest.len() == 4)
        .and_then(|rest| rest.parse::<u32>().ok())
        .filter(|code| TABLE_CODES.contains(code))
        .unwrap_or(0);
    let timing = match code {
        1019 | 1037 => Timing::Timeout,
        _ => Timing::Answer,
    };
    let reason = if code == 0 {
        "the customer pays (default outcome)".to_owned()
    } else {
        format!("test MSISDN {} produces result code {code}", facts.msisdn)
    };
    StkDecision { result_code: code, timing, reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn facts(msisdn: &str) -> StkFacts<'_> {
        StkFacts { msisdn, shortcode: "174379", amount_cents: 100, account_reference: "ref" }
    }

    #[test]
    fn the_table_maps_test_numbers_to_result_codes() {
        assert_eq!(decide_stk(&facts("254708374149")).result_code, 0);
        assert_eq!(decide_stk(&facts("254711001032")).result_code, 1032);
        let timeout = decide_stk(&facts("254711001037"));
        assert_eq!((timeout.result_code, timeout.timing), (1037, Timing::Timeout));
        assert_eq!(decide_stk(&facts("254711000001")).result_code, 1);
        assert_eq!(decide_stk(&facts("254711000005")).result_code, 0, "codes outside the table succeed");
    }

    proptest! {
        #[test]
        fn every_msisdn_gets_a_decision(msisdn in ".*") {
            let _ = decide_stk(&facts(&msisdn));
        }
    }
}
