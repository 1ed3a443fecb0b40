// The agent's streaming server (logs, exec) and the pieces the API server's node proxy reuses.
export { AgentServer, apiserverClientCN, type AgentServerOptions } from './agent-server.js';
export { rejectUpgrade } from './reject-upgrade.js';
export * from './channel.js';
export {
  formatLogTime,
  LineAssembler,
  LogFilter,
  parseCriLine,
  parseLogTime,
  renderCriLog,
  streamCriLog,
  type CriRecord,
  type LogLine,
  type LogTime,
} from './cri-log.js';
export { execTarget, findContainers, logTarget, resolveContainers, type ContainerRef } from './resolve.js';
export { ensureServingCert, selfSignedCert, type KeyPairPem } from './serving-cert.js';
