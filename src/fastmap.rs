//! The hash map of the sandbox's own state: std's map with foldhash, seeded
//! per process, instead of SipHash. Keys are phone numbers, ids and tenant
//! names looked up several times per request; SipHash took about a twentieth
//! of an M-Pesa Express push. The per-process seed keeps colliding keys
//! unpredictable to a client, and nothing iterates these maps in an order
//! that reaches the wire (std's map was randomly ordered too).

/// A `std::collections::HashMap` with foldhash.
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
