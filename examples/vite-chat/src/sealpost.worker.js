// The whole Web Worker: the package runs the client here and serves it to the page.
import { serveClient } from 'sealpost-wasm/worker';

serveClient({ relayUrl: '' }); // same origin as the page; state in IndexedDB "sealpost"
