// The worker of the RemoteClient test: an app's whole worker file is a few lines (with
// MemoryStorage instead of the default IndexedDB so test runs do not collide), plus an
// app method of its own.
import { serveClient } from '../pkg/worker.js';
import { MemoryStorage, userIdFromUsername } from '../pkg/index.js';

const storages = new Map();
serveClient({
  // One storage per username, kept across logins in this worker.
  storage: (username) => {
    if (!storages.has(username)) storages.set(username, new MemoryStorage());
    return storages.get(username);
  },
  methods: {
    userId: (_client, name) => userIdFromUsername(name),
    whoAmI: (client) => client?.username ?? null,
    storedKeys: (_client, name) => storages.get(name)?.keys().length ?? 0,
  },
});
