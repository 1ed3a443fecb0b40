// Answering a refused HTTP upgrade (exec, attach, port-forward) on the raw socket, before any WebSocket
// exists. Shared by the agent's server and the API server's node proxy; kept apart from both so the API
// server does not load the agent's server to use it.
import type { Duplex } from 'node:stream';

const statusText: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** Answer an upgrade request with a plain HTTP error and close the socket. */
export function rejectUpgrade(socket: Duplex, code: number, body: string): void {
  if (socket.destroyed) return;
  const text = Buffer.from(body, 'utf8');
  socket.end(
    `HTTP/1.1 ${code} ${statusText[code] ?? 'Error'}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${text.length}\r\nConnection: close\r\n\r\n${text.toString('utf8')}`,
  );
}
