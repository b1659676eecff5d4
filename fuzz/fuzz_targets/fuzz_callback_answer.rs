#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pesa_sandbox::fuzzing::callback_answer(data));
