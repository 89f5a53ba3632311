import { request, type Agent } from 'node:http';

/**
 * POSTs a MessagePack body to an engine's `/v1/telemetry` over `agent` (keep-alive) with an
 * intake credential (`token`: an ingest or admin JWT); resolves with the status and the
 * answer's text, rejects on a network error.
 */
export function postTelemetry(agent: Agent, engine: URL, body: Buffer, token: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: engine.hostname, port: engine.port || 80, path: '/v1/telemetry', method: 'POST', agent,
      headers: { 'content-type': 'application/msgpack', 'content-length': body.length, authorization: `Bearer ${token}` },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
