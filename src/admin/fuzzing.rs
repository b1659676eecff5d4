//! The admin API's body readers, for the `admin_body` fuzz target: each
//! reads arbitrary bytes as its endpoint does and checks what it accepts.

use super::state::{scenarios_from, ClockMove, MoveClock, ScenarioRequest, MAX_ADVANCE_MS, MAX_WAIT_MS};
use super::tenants::CreateTenant;
use crate::clock::Clock;

/// `POST /clock`: an accepted move stays within ten years and a minute's
/// wait, and moving a clock at either end of the calendar stays within it.
pub(crate) fn clock_move(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<MoveClock>(data) else { return };
    let Ok((change, wait)) = body.validate() else { return };
    assert!(wait.as_millis() <= u128::from(MAX_WAIT_MS), "an accepted wait is at most a minute");
    for start in [crate::clock::dawn(), crate::clock::horizon()] {
        let clock = Clock::virtual_at(start);
        let now = match change {
            ClockMove::Advance(by) => {
                assert!(by.num_milliseconds() >= 0, "an accepted move goes forward");
                assert!(by.num_milliseconds().unsigned_abs() <= MAX_ADVANCE_MS, "at most ten years");
                clock.advance(by)
            }
            ClockMove::Set(at) => clock.set(at),
        };
        let now = now.unwrap_or(start);
        assert!(now >= crate::clock::dawn() && now <= crate::clock::horizon(), "the clock stays in the calendar");
    }
}

/// `POST /tenants`: the world, the clock and the scenarios are checked
/// without creating anything.
pub(crate) fn tenant_creation(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<CreateTenant>(data) else { return };
    if let Ok(tenant) = body.validate() {
        assert!(
            crate::scenarios::check_limits(tenant.scenarios.iter().map(|s| &**s)).is_ok(),
            "accepted scenarios are within the limits"
        );
        let now = tenant.clock.now();
        assert!(!tenant.clock.is_virtual() || now <= crate::clock::horizon(), "a virtual clock starts in the calendar");
    }
}

/// `PUT|POST /scenarios` with a JSON body: shipped names and documents.
pub(crate) fn scenario_request(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<ScenarioRequest>(data) else { return };
    let _ = scenarios_from(&body);
}
