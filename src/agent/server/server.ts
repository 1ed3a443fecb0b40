// Entry point name the agent wiring imports (`./server/server.js`); the server lives in agent-server.ts.
export { AgentServer, apiserverClientCN, type AgentServerOptions } from './agent-server.js';
