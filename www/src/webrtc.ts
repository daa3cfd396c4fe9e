// The page's WebRTC (RTCPeerConnection and the microphone are not in workers) as one chunk
// loaded on first use: the direct channels' host, voice calls and room voice share the
// package's WebRTC pieces (sealpost-wasm/direct), and a lazily loaded chunk may import no
// other file (scripts/postbuild.mjs), so they come together.

export { attachDirect } from 'sealpost-wasm/direct';
export { attachCalls } from 'sealpost-wasm/calls';
export { attachRoomVoice } from 'sealpost-wasm/roomvoice';
