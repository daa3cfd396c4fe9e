#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sealpost_core::fuzz::decrypt_file(data));
