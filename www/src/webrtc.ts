// The page's WebRTC (RTCPeerConnection is not in workers) as one chunk loaded on first
// use: the direct channels' host and room voice share the package's WebRTC pieces
// (sealpost-wasm/direct), and a lazily loaded chunk may import no other file
// (scripts/postbuild.mjs), so they come together.

export { attachDirect } from 'sealpost-wasm/direct';
export { attachRoomVoice } from 'sealpost-wasm/roomvoice';
