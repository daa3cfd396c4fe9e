// Placeholder: the relay client tests.
export function clientSuite() {}
