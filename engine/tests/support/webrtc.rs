//! The WebRTC stand-in's certificates and SDPs, for the direct channel and call tests.

use sealpost_engine::direct::CertFingerprint;

use super::Device;

/// A device's DTLS certificate fingerprint in these tests: derived from its id.
pub fn cert(d: &Device) -> CertFingerprint {
    let mut f = [0x5a; 32];
    f[..16].copy_from_slice(d.id().as_bytes());
    f
}

/// An SDP naming certificate `fp`.
pub fn sdp(fp: &CertFingerprint) -> Vec<u8> {
    let hex: Vec<String> = fp.iter().map(|b| format!("{b:02X}")).collect();
    format!(
        "v=0\r\na=fingerprint:sha-256 {}\r\na=candidate:1 1 udp 1 192.0.2.2 9 typ host\r\n",
        hex.join(":")
    )
    .into_bytes()
}
