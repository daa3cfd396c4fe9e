// The worker of the RemoteClient test: an app's whole worker file is these two lines
// (with MemoryStorage instead of the default IndexedDB so test runs do not collide).
import { serveClient } from '../pkg/worker.js';
import { MemoryStorage } from '../pkg/index.js';

serveClient({ storage: () => new MemoryStorage() });
