//! Test organisations created on first use.
//!
//! Client libraries ship or document the shared sandbox's test shortcodes
//! (`600111`, `600133`, `600978`, `600981`, `600997`, ...) and its shared
//! initiator `testapi`, and the shared sandbox acknowledges B2C, B2B and
//! balance calls on any of them. So, unless the world sets
//! `auto_organisations = false`, a `600` number that a request names and the
//! world lacks becomes a funded paybill on first use: KES 1,000,000 in its
//! utility and working accounts, any B2B CommandID accepted, `testapi`
//! acting for it with every role. Only the thousand `600xxx` numbers
//! qualify, which bounds what this can add to a tenant.

use std::sync::Arc;

use super::world::{OperatorKind, Shortcode, ShortcodeKind};
use super::{accounts, State};
use crate::ledger::Money;
use crate::store::Core;

/// The operator that acts for every test organisation.
pub(crate) const SHARED_INITIATOR: &str = "testapi";

/// What a test organisation holds in each of its utility and working accounts.
const OPENING: Money = Money(100_000_000);

/// Whether a number is one of the shared sandbox's test organisations.
pub(crate) fn is_test_organisation(number: &str) -> bool {
    number.len() == 6 && number.starts_with("600") && number.bytes().all(|b| b.is_ascii_digit())
}

/// Makes sure a test organisation the request names exists; returns whether
/// it was created now.
pub(crate) fn ensure(core: &mut Core, mine: &mut State, number: &str) -> bool {
    if !mine.world.settings.auto_organisations
        || !is_test_organisation(number)
        || mine.world.shortcodes.contains_key(number)
    {
        return false;
    }
    let shortcode = Shortcode {
        number: number.to_owned(),
        kind: ShortcodeKind::Paybill,
        name: format!("Safaricom Daraja {}", number.get(3..).unwrap_or(number)),
        passkey: None,
        store: None,
        head_office: None,
        opening_balance: OPENING,
        opening_working_balance: OPENING,
        external_validation: false,
        c2b: true,
        stk_confirmation: false,
        any_b2b_command: true,
    };
    accounts::open(core, &shortcode);
    Arc::make_mut(&mut mine.world).shortcodes.insert(number.to_owned(), shortcode);
    if let Some(operator) = mine.operators.get_mut(SHARED_INITIATOR) {
        if operator.kind == OperatorKind::Api && !operator.shortcodes.iter().any(|s| s == number) {
            operator.shortcodes.push(number.to_owned());
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_600_series_are_test_organisations() {
        assert!(is_test_organisation("600978"));
        assert!(is_test_organisation("600000"));
        for other in ["174379", "60097", "6009781", "600a78", "700978", ""] {
            assert!(!is_test_organisation(other), "{other}");
        }
    }
}
